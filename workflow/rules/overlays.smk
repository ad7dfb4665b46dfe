# Overlay videos of the test sequences at the example figure's operating point (evaluate.smk).


rule overlays:
    input:
        counts="results/eval/counts.csv",
        detections="results/detections/test.csv",
        annotations="results/annotations.csv",
        splits="results/splits.csv",
        frames=all_frames,
    output:
        videos=directory("results/overlays/videos"),
        index="results/overlays/index.csv",
        worst=report(
            "results/overlays/worst.html",
            caption="../report/overlays.rst",
            category="Examples",
            labels={"figure": "worst FP and FN videos", "IoU": f"{EXAMPLE_IOU:g}"},
        ),
    log:
        "logs/overlays.log",
    benchmark:
        "benchmarks/out/overlays.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("single_frame", "fusion", "evaluate"),
        frames=lambda w, input: os.path.dirname(input.frames[0]),
        out=lambda w, output: os.path.dirname(output.index),
        iou=EXAMPLE_IOU,
        fp_rate=EXAMPLE_FP_RATE,
    shell:
        "dynbus overlays --counts {input.counts:q} --detections {input.detections:q}"
        " --annotations {input.annotations:q} --manifest {input.splits:q} --split test"
        " --frames {params.frames:q} --iou {params.iou} --fp-rate {params.fp_rate}"
        " --out {params.out:q} --config {params.cfg:q} > {log:q} 2>&1"
