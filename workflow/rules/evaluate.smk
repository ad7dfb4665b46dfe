# Single- vs multi-frame evaluation on the test split, then the paper's tables, FROC plots, figures.

# The paper's tables (file stem -> hit IoU), as `dynbus tables` writes them.
PAPER_TABLES = {"table1": 0.2, "table2": 0.5}
# The example figure's operating point: the lowest hit IoU and the middle FP rate of the config.
EXAMPLE_IOU = min(config["evaluate"]["hit_iou"])
EXAMPLE_FP_RATE = sorted(config["evaluate"]["fp_rates"])[
    len(config["evaluate"]["fp_rates"]) // 2
]


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
        single_frames="results/eval/single_frames.csv",
        settings="results/eval/settings.json",
    log:
        "logs/evaluate.log",
    benchmark:
        "benchmarks/out/evaluate.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("single_frame", "fusion", "evaluate"),
        out=lambda w, output: os.path.dirname(output.counts),
    shell:
        "dynbus evaluate --detections {input.detections:q} --annotations {input.annotations:q}"
        " --manifest {input.splits:q} --split test --out {params.out:q}"
        " --config {params.cfg:q} > {log:q} 2>&1"


rule tables:
    input:
        counts="results/eval/counts.csv",
        stats="results/eval/stats.csv",
    output:
        *[
            report(
                f"results/tables/{stem}.html",
                caption="../report/tables.rst",
                category="Tables",
                labels={"table": f"Table {stem[-1]}", "IoU": f"{iou:g}"},
            )
            for stem, iou in PAPER_TABLES.items()
        ],
        report(
            "results/tables/extended.html",
            caption="../report/extended.rst",
            category="Tables",
            labels={"table": "extended statistics", "IoU": "all"},
        ),
        *expand(
            "results/tables/{stem}.{ext}", stem=PAPER_TABLES, ext=["csv", "md", "tex"]
        ),
        "results/tables/extended.csv",
        "results/tables/extended.md",
    log:
        "logs/tables.log",
    benchmark:
        "benchmarks/out/tables.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "dynbus tables --counts {input.counts:q} --stats {input.stats:q} --out {params.out:q}"
        " > {log:q} 2>&1"


rule plots:
    input:
        counts="results/eval/counts.csv",
        bands="results/eval/froc_bands.csv",
        stats="results/eval/stats.csv",
    output:
        png=report(
            "results/plots/froc_iou{iou}.png",
            caption="../report/froc_png.rst",
            category="FROC",
            labels={"figure": "FROC", "IoU": "{iou}", "format": "PNG"},
        ),
        pdf=report(
            "results/plots/froc_iou{iou}.pdf",
            caption="../report/froc_pdf.rst",
            category="FROC",
            labels={"figure": "FROC", "IoU": "{iou}", "format": "PDF"},
        ),
    log:
        "logs/plots/iou{iou}.log",
    benchmark:
        "benchmarks/out/plots/iou{iou}.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus plots --counts {input.counts:q} --bands {input.bands:q} --stats {input.stats:q}"
        " --iou {wildcards.iou} --out {output.png:q} {output.pdf:q} > {log:q} 2>&1"


rule figures:
    input:
        counts="results/eval/counts.csv",
        single_frames="results/eval/single_frames.csv",
        detections="results/detections/test.csv",
        annotations="results/annotations.csv",
        frames=all_frames,
    output:
        report(
            "results/figures/examples.png",
            caption="../report/examples.rst",
            category="Examples",
            labels={"figure": "examples", "IoU": f"{EXAMPLE_IOU:g}", "format": "PNG"},
        ),
    log:
        "logs/figures.log",
    benchmark:
        "benchmarks/out/figures.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        frames=lambda w, input: os.path.dirname(input.frames[0]),
        iou=EXAMPLE_IOU,
        fp_rate=EXAMPLE_FP_RATE,
    shell:
        "dynbus figures --counts {input.counts:q} --single-frames {input.single_frames:q}"
        " --detections {input.detections:q} --annotations {input.annotations:q}"
        " --frames {params.frames:q} --iou {params.iou} --fp-rate {params.fp_rate}"
        " --out {output:q} > {log:q} 2>&1"
