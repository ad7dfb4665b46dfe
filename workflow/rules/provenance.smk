# Provenance of a run: content fingerprints of every stage's outputs, and the environment used.


rule fingerprint:
    input:
        "results/reports/split_summary.csv",
        "results/detections/val.csv",
        "results/tables/table1.csv",
        "results/tables/table2.csv",
        expand("results/plots/froc_iou{iou}.pdf", iou=config["evaluate"]["hit_iou"]),
        "results/figures/examples.png",
    output:
        stages="results/fingerprints/stages.json",
    log:
        "logs/fingerprint.log",
    conda:
        "../../envs/dicom.yaml"
    shell:
        "dynbus fingerprint --results results --out {output.stages:q} > {log:q} 2>&1"


rule environment:
    input:
        "results/model/detector.pt",
    output:
        json="results/provenance/environment.json",
        table=multiext("results/provenance/environment", ".csv", ".md"),
    params:
        cfg=stage_config("reproducibility"),
        repo=workflow.basedir,
    log:
        "logs/environment.log",
    conda:
        "../../envs/torch.yaml"
    shell:
        "dynbus environment --out {output.json:q} --repo {params.repo:q} --config {params.cfg:q}"
        " > {log:q} 2>&1"
