# Non-DICOM inputs (source.format: cocovid | video | cvat) -> the same contract as prepare.smk:
# pseudonymous manifests, cleaned PNG frames per sequence, re-keyed annotations.
# Rules that read raw data log into the private linkage folder: raw names may carry PHI. The
# per-sequence rule sees only pseudonymous paths (its private decoding spec names the raw files).
if config["simulate"]["enabled"]:
    _refuse(
        f"source.format {config['source']['format']} reads your data: set simulate.enabled: false"
    )


checkpoint manifest:
    input:
        unpack(manifest_input),
        coco_json=COCO_JSON_LINKS,  # links: a JSON edited later re-runs the import
    output:
        private=f"{LINKAGE}/manifest.csv",
        public="results/manifest.csv",
        skipped="results/reports/skipped_inputs.csv",
        boxes=f"{LINKAGE}/imported_annotations.csv",
    log:
        f"{LINKAGE}/logs/import.log",
    benchmark:
        "benchmarks/out/import.tsv"
    conda:
        "../../envs/dicom.yaml"
    params:
        key=KEY,
        specs=SOURCE_SPECS,
        annotations=(
            f"--annotations {shlex.quote(ANNOTATIONS_LINK)}"
            if USES_ANNOTATIONS
            else ""
        ),
        raw_tree=raw_tree_digest,
        cfg=stage_config("source", "deid", "on_bad_input"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus import {input.raw:q} --key {params.key:q} --private {output.private:q}"
        " --out {output.public:q} --skipped {output.skipped:q} --boxes {output.boxes:q}"
        " --specs {params.specs:q} {params.annotations} --config {params.cfg:q} > {log:q} 2>&1"


rule frames:
    input:
        f"{LINKAGE}/manifest.csv",
    output:
        frames=directory(f"{FRAMES}/{{seq}}"),
        audit="results/audit/{seq}.json",
    log:
        f"{LINKAGE}/logs/import_frames/{{seq}}.log",
    benchmark:
        "benchmarks/out/import_frames/{seq}.tsv"
    group:
        "sequence"
    conda:
        "../../envs/dicom.yaml"
    params:
        spec=f"{SOURCE_SPECS}/{{seq}}.json",
        cfg=stage_config("deid"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus import-frames {params.spec:q} {output.frames:q} --audit {output.audit:q}"
        " --config {params.cfg:q} > {log:q} 2>&1"


rule annotations:
    input:
        raw=f"{LINKAGE}/imported_annotations.csv",
        private=f"{LINKAGE}/manifest.csv",
        public="results/manifest.csv",
    output:
        annotations="results/annotations.csv",
        report="results/reports/bad_annotations.csv",
    log:
        f"{LINKAGE}/logs/annotations.log",
    benchmark:
        "benchmarks/out/annotations.tsv"
    conda:
        "../../envs/dicom.yaml"
    params:
        cfg=ANNOTATIONS_CONFIG,
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus annotations {input.raw:q} --private-manifest {input.private:q}"
        " --manifest {input.public:q} --out {output.annotations:q}"
        " --report {output.report:q} --config {params.cfg:q} > {log:q} 2>&1"
