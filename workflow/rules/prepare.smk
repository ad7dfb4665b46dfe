# Raw DICOM -> pseudonymous sequences -> de-identified DICOM -> PNG frames; annotations re-keyed.
# Rules that read raw data log into the private linkage folder: raw names may carry PHI. They
# reach the raw data through links named by pseudonyms (data.smk, LINKS), never by raw paths.


checkpoint manifest:
    input:
        unpack(manifest_input),
    output:
        private=f"{LINKAGE}/manifest.csv",
        public="results/manifest.csv",
        skipped="results/reports/skipped_inputs.csv",
    log:
        f"{LINKAGE}/logs/manifest.log",
    benchmark:
        "benchmarks/out/manifest.tsv"
    conda:
        "../../envs/dicom.yaml"
    params:
        key=KEY,
        links=LINKS,
        raw_tree=raw_tree_digest,
        cfg=stage_config("on_bad_input", "deid"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus manifest {input.raw:q} --key {params.key:q} --private {output.private:q}"
        " --links {params.links:q} --out {output.public:q} --skipped {output.skipped:q}"
        " --config {params.cfg:q}"
        " > {log:q} 2>&1"


rule deidentify:
    input:
        manifest=f"{LINKAGE}/manifest.csv",
        raw=raw_files,
    output:
        deid=directory("results/deid/{seq}"),
        audit="results/audit/{seq}.json",
    log:
        f"{LINKAGE}/logs/deidentify/{{seq}}.log",
    benchmark:
        "benchmarks/out/deidentify/{seq}.tsv"
    group:
        "sequence"
    conda:
        "../../envs/dicom.yaml"
    params:
        key=KEY,
        cfg=stage_config("deid"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus deidentify {input.raw:q} {output.deid:q} --key {params.key:q}"
        " --audit {output.audit:q} --config {params.cfg:q} > {log:q} 2>&1"


rule frames:
    input:
        "results/deid/{seq}",
    output:
        directory("results/frames/{seq}"),
    log:
        "logs/frames/{seq}.log",
    benchmark:
        "benchmarks/out/frames/{seq}.tsv"
    group:
        "sequence"
    conda:
        "../../envs/dicom.yaml"
    threads: 2
    shell:
        "dynbus frames {input:q} {output:q} --threads {threads} > {log:q} 2>&1"


rule annotations:
    input:
        raw=raw_annotations_input,
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
        raw_annotations=raw_annotations,
        cfg=stage_config("on_bad_annotation"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus annotations {params.raw_annotations:q} --private-manifest {input.private:q}"
        " --manifest {input.public:q} --out {output.annotations:q}"
        " --report {output.report:q} --config {params.cfg:q} > {log:q} 2>&1"
