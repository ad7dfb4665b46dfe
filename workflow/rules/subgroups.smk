# Which masses are missed (docs/subgroups.md): sensitivity single vs multi-frame by lesion size,
# scanner and frame rate on the test split's lesion hits (pooled over the folds when
# split.folds > 1: results/eval/ is then written by rule pool), and its forest plot.


localrules:
    subgroups,
    forest,


rule subgroups:
    input:
        hits="results/eval/lesion_hits.csv",
        annotations="results/annotations.csv",
        frames=all_frames,
    output:
        lesions="results/subgroups/lesions.csv",
        subgroups="results/subgroups/subgroups.csv",
        heterogeneity="results/subgroups/heterogeneity.csv",
    log:
        "logs/subgroups.log",
    benchmark:
        "benchmarks/out/subgroups.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("subgroups"),
        frames=FRAMES,
        out=lambda w, output: os.path.dirname(output.subgroups),
    shell:
        "dynbus subgroups --hits {input.hits:q} --annotations {input.annotations:q}"
        " --frames {params.frames:q} --out {params.out:q} --config {params.cfg:q}"
        " > {log:q} 2>&1"


rule forest:
    input:
        subgroups=rules.subgroups.output.subgroups,
        heterogeneity=rules.subgroups.output.heterogeneity,
    output:
        png=report(
            "results/subgroups/forest.png",
            caption="../report/forest.rst",
            category="Subgroups",
            labels=study_labels(
                {"figure": "forest plot", "IoU": f"{EXAMPLE_IOU:g}", "format": "PNG"}
            ),
        ),
        table=report(
            "results/subgroups/subgroups.html",
            caption="../report/subgroups.rst",
            category="Subgroups",
            labels=study_labels(
                {"table": "subgroups", "IoU": "all", "format": "HTML"}
            ),
        ),
    log:
        "logs/forest.log",
    benchmark:
        "benchmarks/out/forest.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        iou=EXAMPLE_IOU,
        fp_rate=EXAMPLE_FP_RATE,
    shell:
        "dynbus forest --subgroups {input.subgroups:q} --heterogeneity {input.heterogeneity:q}"
        " --iou {params.iou} --fp-rate {params.fp_rate} --out {output.png:q}"
        " --table {output.table:q} > {log:q} 2>&1"
