# The embedded synthetic study (demo only): raw cine DICOM with fake PHI + annotations.csv, and
# its public linkage key (derived from the seed) so the demo gives the same tables everywhere.
if config["simulate"]["enabled"]:

    rule simulate:
        output:
            raw=directory(RAW),
            key=KEY,
        params:
            cfg=stage_config("simulate"),
        log:
            f"{LINKAGE}/logs/simulate.log",
        benchmark:
            "benchmarks/out/simulate.tsv"
        conda:
            "../../envs/dicom.yaml"
        shell:
            "dynbus simulate --out {output.raw:q} --linkage-key {output.key:q}"
            " --config {params.cfg:q} > {log:q} 2>&1"
