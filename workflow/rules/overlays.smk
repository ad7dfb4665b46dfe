# Overlay videos of the test sequences at the example figure's operating point (evaluate.smk),
# per fold.


rule overlays:
    input:
        counts=f"results/{FOLD}eval/counts.csv",
        detections=f"results/{FOLD}detections/test.csv",
        annotations="results/annotations.csv",
        splits=f"results/{FOLD}splits.csv",
        frames=all_frames,
    output:
        videos=directory(f"results/{FOLD}overlays/videos"),
        index=f"results/{FOLD}overlays/index.csv",
        worst=report(
            f"results/{FOLD}overlays/worst.html",
            caption="../report/overlays.rst",
            category="Examples",
            labels=fold_labels(
                {"figure": "worst FP and FN videos", "IoU": f"{EXAMPLE_IOU:g}"}
            ),
        ),
    log:
        f"logs/{FOLD}overlays.log",
    benchmark:
        f"benchmarks/out/{FOLD}overlays.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("single_frame", "fusion", "evaluate"),
        frames=FRAMES,
        out=lambda w, output: os.path.dirname(output.index),
        iou=EXAMPLE_IOU,
        fp_rate=EXAMPLE_FP_RATE,
    shell:
        "dynbus overlays --counts {input.counts:q} --detections {input.detections:q}"
        " --annotations {input.annotations:q} --manifest {input.splits:q} --split test"
        " --frames {params.frames:q} --iou {params.iou} --fp-rate {params.fp_rate}"
        " --out {params.out:q} --config {params.cfg:q} > {log:q} 2>&1"
