# The embedded synthetic study (demo only), in a folder of its own: raw cine DICOM with fake PHI +
# annotations.csv, and its public linkage key (derived from the seed) so the demo gives the same
# tables everywhere. The user's raw_dir, annotations and linkage.key are never outputs.
if SIMULATE:

    rule simulate:
        output:
            raw=directory(DEMO_RAW),
            key=DEMO_KEY,
        log:
            "logs/simulate.log",
        benchmark:
            "benchmarks/out/simulate.tsv"
        conda:
            "../../envs/dicom.yaml"
        params:
            cfg=stage_config("simulate"),
        shell:
            "dynbus simulate --out {output.raw:q} --linkage-key {output.key:q}"
            " --config {params.cfg:q} > {log:q} 2>&1"
