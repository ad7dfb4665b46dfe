# Patient-disjoint train / val / test split and its summary (the paper's section 1 numbers).


rule split:
    input:
        manifest="results/manifest.csv",
        annotations="results/annotations.csv",
        duplicates="results/reports/duplicates.csv",
    output:
        splits="results/splits.csv",
        summary=report(
            "results/reports/split_summary.csv",
            caption="../report/split_summary.rst",
            category="Data",
        ),
    log:
        "logs/split.log",
    benchmark:
        "benchmarks/out/split.tsv"
    conda:
        "../../envs/dicom.yaml"
    params:
        cfg=stage_config("split"),
    shell:
        "dynbus split --manifest {input.manifest:q} --annotations {input.annotations:q}"
        " --out {output.splits:q} --summary {output.summary:q} --config {params.cfg:q}"
        " --duplicates {input.duplicates:q}"
        " > {log:q} 2>&1"
