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
        "results/fingerprints/stages.json",
    log:
        "logs/fingerprint.log",
    conda:
        "../../envs/dicom.yaml"
    shell:
        "dynbus fingerprint --results results --out {output:q} > {log:q} 2>&1"


rule environment:
    input:
        "results/model/detector.pt",
    output:
        multiext("results/provenance/environment", ".json", ".csv", ".md"),
    params:
        cfg=stage_config("reproducibility"),
        repo=workflow.basedir,
    log:
        "logs/environment.log",
    conda:
        "../../envs/torch.yaml"
    shell:
        "dynbus environment --out {output[0]:q} --repo {params.repo:q} --config {params.cfg:q}"
        " > {log:q} 2>&1"
