# Patient-disjoint train / val / test split and its summary (the paper's section 1 numbers).


rule split:
    input:
        manifest=STUDY_MANIFEST,
        annotations="results/annotations.csv",
        duplicates="results/reports/duplicates.csv",
    output:
        splits=f"results/{FOLD}splits.csv",
        summary=report(
            f"results/{FOLD}reports/split_summary.csv",
            caption="../report/split_summary.rst",
            category="Data",
        ),
    log:
        f"logs/{FOLD}split.log",
    benchmark:
        f"benchmarks/out/{FOLD}split.tsv"
    conda:
        "../../envs/dicom.yaml"
    params:
        cfg=stage_config("split"),
        fold=lambda w: f" --fold {w.fold}" if FOLDS > 1 else "",
    shell:
        "dynbus split --manifest {input.manifest:q} --annotations {input.annotations:q}"
        " --out {output.splits:q} --summary {output.summary:q} --config {params.cfg:q}"
        " --duplicates {input.duplicates:q}{params.fold}"
        " > {log:q} 2>&1"
