# Single- vs multi-frame evaluation on the test split (per fold), then the paper's tables, FROC
# plots, figures.

# The paper's tables (file stem -> hit IoU), as `dynbus tables` writes them.
PAPER_TABLES = {"table1": 0.2, "table2": 0.5}
# The example figure's operating point: the lowest hit IoU and the middle FP rate of the config.
EXAMPLE_IOU = min(config["evaluate"]["hit_iou"])
EXAMPLE_FP_RATE = sorted(config["evaluate"]["fp_rates"])[
    len(config["evaluate"]["fp_rates"]) // 2
]


rule evaluate:
    input:
        detections=f"results/{FOLD}detections/test.csv",
        annotations="results/annotations.csv",
        splits=f"results/{FOLD}splits.csv",
    output:
        counts=f"results/{FOLD}eval/counts.csv",
        froc=f"results/{FOLD}eval/froc.csv",
        bands=f"results/{FOLD}eval/froc_bands.csv",
        hits=f"results/{FOLD}eval/lesion_hits.csv",
        stats=f"results/{FOLD}eval/stats.csv",
        single_frames=f"results/{FOLD}eval/single_frames.csv",
        settings=f"results/{FOLD}eval/settings.json",
    log:
        f"logs/{FOLD}evaluate.log",
    benchmark:
        f"benchmarks/out/{FOLD}evaluate.tsv"
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
        counts=rules.evaluate.output.counts,
        stats=rules.evaluate.output.stats,
    output:
        *table_files(f"results/{FOLD}tables", fold_labels),
    log:
        f"logs/{FOLD}tables.log",
    benchmark:
        f"benchmarks/out/{FOLD}tables.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "dynbus tables --counts {input.counts:q} --stats {input.stats:q} --out {params.out:q}"
        " > {log:q} 2>&1"


rule plots:
    input:
        counts=rules.evaluate.output.counts,
        bands=rules.evaluate.output.bands,
        stats=rules.evaluate.output.stats,
    output:
        png=report(
            f"results/{FOLD}plots/froc_iou{{iou}}.png",
            caption="../report/froc_png.rst",
            category="FROC",
            labels=fold_labels({"figure": "FROC", "IoU": "{iou}", "format": "PNG"}),
        ),
        pdf=report(
            f"results/{FOLD}plots/froc_iou{{iou}}.pdf",
            caption="../report/froc_pdf.rst",
            category="FROC",
            labels=fold_labels({"figure": "FROC", "IoU": "{iou}", "format": "PDF"}),
        ),
    log:
        f"logs/{FOLD}plots/iou{{iou}}.log",
    benchmark:
        f"benchmarks/out/{FOLD}plots/iou{{iou}}.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus plots --counts {input.counts:q} --bands {input.bands:q} --stats {input.stats:q}"
        " --iou {wildcards.iou} --out {output.png:q} {output.pdf:q} > {log:q} 2>&1"


rule figures:
    input:
        counts=rules.evaluate.output.counts,
        single_frames=rules.evaluate.output.single_frames,
        detections=f"results/{FOLD}detections/test.csv",
        annotations="results/annotations.csv",
        frames=all_frames,
    output:
        report(
            f"results/{FOLD}figures/examples.png",
            caption="../report/examples.rst",
            category="Examples",
            labels=fold_labels(
                {"figure": "examples", "IoU": f"{EXAMPLE_IOU:g}", "format": "PNG"}
            ),
        ),
    log:
        f"logs/{FOLD}figures.log",
    benchmark:
        f"benchmarks/out/{FOLD}figures.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        frames=FRAMES,
        iou=EXAMPLE_IOU,
        fp_rate=EXAMPLE_FP_RATE,
    shell:
        "dynbus figures --counts {input.counts:q} --single-frames {input.single_frames:q}"
        " --detections {input.detections:q} --annotations {input.annotations:q}"
        " --frames {params.frames:q} --iou {params.iou} --fp-rate {params.fp_rate}"
        " --out {output:q} > {log:q} 2>&1"
