# Single- vs multi-frame evaluation on the test split, then the paper's tables, FROC plots, figures.


rule evaluate:
    input:
        detections="results/detections/test.csv",
        annotations="results/annotations.csv",
        splits="results/splits.csv",
    output:
        counts="results/eval/counts.csv",
        froc="results/eval/froc.csv",
        bands="results/eval/froc_bands.csv",
        hits="results/eval/lesion_hits.csv",
        stats="results/eval/stats.csv",
    params:
        cfg=stage_config("single_frame", "fusion", "evaluate"),
        out=lambda w, output: os.path.dirname(output.counts),
    log:
        "logs/evaluate.log",
    benchmark:
        "benchmarks/out/evaluate.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus evaluate --detections {input.detections:q} --annotations {input.annotations:q}"
        " --manifest {input.splits:q} --split test --out {params.out:q}"
        " --config {params.cfg:q} > {log:q} 2>&1"


rule tables:
    input:
        counts="results/eval/counts.csv",
        stats="results/eval/stats.csv",
    output:
        report(
            multiext("results/tables/table1", ".csv", ".md", ".tex"),
            caption="../report/tables.rst",
            category="Tables",
        ),
        report(
            multiext("results/tables/table2", ".csv", ".md", ".tex"),
            caption="../report/tables.rst",
            category="Tables",
        ),
        report(
            "results/tables/extended.csv",
            caption="../report/tables.rst",
            category="Tables",
        ),
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    log:
        "logs/tables.log",
    benchmark:
        "benchmarks/out/tables.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus tables --counts {input.counts:q} --stats {input.stats:q} --out {params.out:q}"
        " > {log:q} 2>&1"


rule plots:
    input:
        "results/eval/froc.csv",
        "results/eval/froc_bands.csv",
        "results/eval/counts.csv",
    output:
        report(
            expand("results/plots/froc_iou{iou}.{ext}", iou=config["evaluate"]["hit_iou"], ext=["png", "pdf"]),
            caption="../report/froc.rst",
            category="FROC",
        ),
    params:
        eval=lambda w, input: os.path.dirname(input[0]),
        out=lambda w, output: os.path.dirname(output[0]),
    log:
        "logs/plots.log",
    benchmark:
        "benchmarks/out/plots.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus plots --eval {params.eval:q} --out {params.out:q} > {log:q} 2>&1"


rule figures:
    input:
        hits="results/eval/lesion_hits.csv",
        detections="results/detections/test.csv",
        annotations="results/annotations.csv",
        frames=all_frames,
    output:
        report(
            "results/figures/examples.png",
            caption="../report/examples.rst",
            category="Examples",
        ),
    params:
        eval=lambda w, input: os.path.dirname(input.hits),
        frames=lambda w, input: os.path.dirname(input.frames[0]),
        out=lambda w, output: os.path.dirname(output[0]),
    log:
        "logs/figures.log",
    benchmark:
        "benchmarks/out/figures.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus figures --eval {params.eval:q} --detections {input.detections:q}"
        " --annotations {input.annotations:q} --frames {params.frames:q} --out {params.out:q}"
        " > {log:q} 2>&1"
