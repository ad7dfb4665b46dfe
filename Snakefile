# dynbus: from raw breast-ultrasound cine DICOM to the paper's Tables 1-2 and FROC plots.
# Run: snakemake --cores 8 --use-conda   (the default config.yaml is the synthetic CPU demo)
# The workflow itself is workflow/Snakefile (the Snakemake workflow catalog's layout); this file
# runs it as a module with the configuration in config.yaml, as another workflow would.


configfile: "config.yaml"


module dynbus:
    snakefile:
        "workflow/Snakefile"
    config:
        config


use rule * from dynbus
