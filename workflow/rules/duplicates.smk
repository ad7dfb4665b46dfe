# Leakage check before the split: near-duplicate frames across sequences (perceptual hashes).


rule duplicates:
    input:
        manifest=STUDY_MANIFEST,
        frames=all_frames,
    output:
        "results/reports/duplicates.csv",
    log:
        "logs/duplicates.log",
    benchmark:
        "benchmarks/out/duplicates.tsv"
    conda:
        "../../envs/dicom.yaml"
    threads: 2
    params:
        frames=FRAMES,
        cfg=stage_config("duplicates"),
    shell:
        "dynbus duplicates --manifest {input.manifest:q} --frames {params.frames:q}"
        " --out {output:q} --workers {threads} --config {params.cfg:q} > {log:q} 2>&1"
