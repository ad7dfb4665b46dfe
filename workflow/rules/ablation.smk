# The field's video metrics and the fusion ablation, on the test split's detections (per fold).


rule video_metrics:
    input:
        detections=f"results/{FOLD}detections/test.csv",
        annotations="results/annotations.csv",
        splits=f"results/{FOLD}splits.csv",
        frames=all_frames,
    output:
        metrics=f"results/{FOLD}eval/video_metrics.csv",
        table=report(
            multiext(f"results/{FOLD}tables/video_metrics", ".csv", ".md"),
            caption="../report/video_metrics.rst",
            category="Tables",
        ),
    log:
        f"logs/{FOLD}video_metrics.log",
    benchmark:
        f"benchmarks/out/{FOLD}video_metrics.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("single_frame", "evaluate"),
        frames=FRAMES,
        table=lambda w, output: os.path.splitext(output.table[0])[0],
    shell:
        "dynbus video-metrics --detections {input.detections:q} --annotations {input.annotations:q}"
        " --manifest {input.splits:q} --split test --frames {params.frames:q}"
        " --out {output.metrics:q} --table {params.table:q} --config {params.cfg:q} > {log:q} 2>&1"


rule ablation:
    input:
        detections=f"results/{FOLD}detections/test.csv",
        annotations="results/annotations.csv",
        splits=f"results/{FOLD}splits.csv",
        frames=all_frames,
    output:
        sensitivity=f"results/{FOLD}eval/ablation.csv",
        video=f"results/{FOLD}eval/ablation_video.csv",
        table=report(
            multiext(f"results/{FOLD}tables/ablation", ".csv", ".md"),
            caption="../report/ablation.rst",
            category="Tables",
        ),
    log:
        f"logs/{FOLD}ablation.log",
    benchmark:
        f"benchmarks/out/{FOLD}ablation.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("single_frame", "fusion", "evaluate"),
        frames=FRAMES,
        table=lambda w, output: os.path.splitext(output.table[0])[0],
    shell:
        "dynbus ablation --detections {input.detections:q} --annotations {input.annotations:q}"
        " --manifest {input.splits:q} --split test --frames {params.frames:q}"
        " --out {output.sensitivity:q} --video-out {output.video:q} --table {params.table:q}"
        " --config {params.cfg:q} > {log:q} 2>&1"
