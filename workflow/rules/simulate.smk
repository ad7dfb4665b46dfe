# The embedded synthetic study (demo only): raw cine DICOM with fake PHI + annotations.csv.
if config["simulate"]["enabled"]:

    rule simulate:
        output:
            directory(RAW),
        params:
            cfg=stage_config("simulate"),
        log:
            f"{LINKAGE}/logs/simulate.log",
        benchmark:
            "benchmarks/out/simulate.tsv"
        conda:
            "../../envs/dicom.yaml"
        shell:
            "dynbus simulate --out {output:q} --config {params.cfg:q} > {log:q} 2>&1"
