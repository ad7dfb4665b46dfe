# Provenance of a run: content fingerprints of every stage's outputs, and the environment used.


rule fingerprint:
    input:
        study_outputs,
        sequence_outputs,
        raw=DEMO_RAW if SIMULATE else [],
    output:
        stages="results/fingerprints/stages.json",
    log:
        "logs/fingerprint.log",
    conda:
        "../../envs/dicom.yaml"
    params:
        raw=f"--raw {DEMO_RAW}" if SIMULATE else "",
    shell:
        "dynbus fingerprint --results results {params.raw} --out {output.stages:q} > {log:q} 2>&1"


rule environment:
    input:
        per_fold(rules.train.output.model),
    output:
        json="results/provenance/environment.json",
        table=multiext("results/provenance/environment", ".csv", ".md"),
        html=report(
            "results/provenance/environment.html",
            caption="../report/versions.rst",
            category="Run information",
            labels={"item": "machine and software"},
        ),
    log:
        "logs/environment.log",
    conda:
        "../../envs/torch.yaml"
    params:
        cfg=stage_config("reproducibility"),
        repo=workflow.basedir,
    shell:
        "dynbus environment --out {output.json:q} --repo {params.repo:q} --config {params.cfg:q}"
        " > {log:q} 2>&1"
