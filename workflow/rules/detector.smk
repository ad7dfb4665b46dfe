# Faster R-CNN: training with best-epoch selection on val, then per-frame inference on val and test.


# The training state goes to results/model/resume/ (each fold's model/resume/) after every epoch. It is not an output, so
# Snakemake never deletes it: a re-run after a kill continues from the last finished epoch when
# the config and inputs are the same (--auto-resume). On SLURM (SLURM_JOB_ID set), train stops
# before the job's runtime runs out and exits 75; the SLURM profile re-submits it (see there).
rule train:
    input:
        frames=all_frames,
        annotations="results/annotations.csv",
        splits=f"results/{FOLD}splits.csv",
    output:
        model=f"results/{FOLD}model/detector.pt",
        metrics=f"results/{FOLD}model/metrics.csv",
        curve=report(
            f"results/{FOLD}model/training.png",
            caption="../report/training.rst",
            category="Detector",
        ),
    log:
        f"logs/{FOLD}train.log",
    benchmark:
        f"benchmarks/out/{FOLD}train.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=720,
    params:
        cfg=stage_config("model", "train", "reproducibility"),
        frames=FRAMES,
        out=lambda w, output: os.path.dirname(output.model),
    shell:
        "dynbus train --frames {params.frames:q} --annotations {input.annotations:q}"
        " --splits {input.splits:q} --out {params.out:q} --config {params.cfg:q}"
        " --auto-resume --threads {threads} --workers {threads}${{SLURM_JOB_ID:+ --time-limit {resources.runtime}}}"
        " > {log:q} 2>&1"


rule infer:
    input:
        model=f"results/{FOLD}model/detector.pt",
        frames=all_frames,
        splits=f"results/{FOLD}splits.csv",
        annotations="results/annotations.csv",
    output:
        detections=f"results/{FOLD}detections/{{split}}.csv",
        coco=f"results/{FOLD}detections/{{split}}.coco.json",
    log:
        f"logs/{FOLD}infer/{{split}}.log",
    benchmark:
        f"benchmarks/out/{FOLD}infer/{{split}}.tsv"
    wildcard_constraints:
        split="val|test",
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=120,
    params:
        cfg=stage_config("model", "infer", "reproducibility"),
        frames=FRAMES,
    shell:
        "dynbus infer --model {input.model:q} --frames {params.frames:q} --splits {input.splits:q}"
        " --split {wildcards.split} --out {output.detections:q} --config {params.cfg:q}"
        " --annotations {input.annotations:q} --workers {threads}"
        " > {log:q} 2>&1"
