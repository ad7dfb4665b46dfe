# dynbus: from raw breast-ultrasound cine DICOM to the paper's Tables 1-2 and FROC plots.
# Run: snakemake --cores 8 --use-conda   (the default config.yaml is the synthetic CPU demo)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


localrules:
    all,
    annotations,
    split,
    tables,
    plots,


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
if config["source"]["format"] == "dicom":

    include: "workflow/rules/prepare.smk"

else:

    include: "workflow/rules/import.smk"


include: "workflow/rules/duplicates.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/detector.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        "results/reports/split_summary.csv",
        "results/detections/val.csv",
        multiext("results/tables/table1", ".csv", ".md", ".tex"),
        multiext("results/tables/table2", ".csv", ".md", ".tex"),
        expand(
            "results/plots/froc_iou{iou}.{ext}",
            iou=config["evaluate"]["hit_iou"],
            ext=["png", "pdf"],
        ),
        "results/figures/examples.png",
    default_target: True
