# dynbus: from raw breast-ultrasound cine DICOM to the paper's Tables 1-2 and FROC plots.
# Run: snakemake --cores 8 --use-conda   (the default config.yaml is the synthetic CPU demo)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/split.smk"


rule all:
    input:
        "results/splits.csv",
        "results/reports/split_summary.csv",
        all_frames,
    default_target: True
