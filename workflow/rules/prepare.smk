# Raw DICOM -> pseudonymous sequences -> de-identified DICOM -> PNG frames; annotations re-keyed.
# Rules that read raw data log into the private linkage folder: raw names may carry PHI. They
# reach the raw data through links named by pseudonyms (data.smk, LINKS), never by raw paths.
# Cheap bookkeeping: on a cluster these run on the submitting node, not as jobs.
localrules:
    sequence_files,
    collect_prepared,


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


rule prepare:
    # One process per shard of SHARD_SIZE sequences (prepare_shards): deidentify + frames of each
    # sequence, each sequence's failure on its own (on_bad_input). The per-sequence outputs are
    # declared by rule sequence_files, which links them out of the shard.
    input:
        manifest=f"{LINKAGE}/manifest.csv",
        raw=shard_raw_files,
    output:
        directory("results/prepared/{shard}"),
    log:
        f"{LINKAGE}/logs/prepare/{{shard}}.log",
    benchmark:
        "benchmarks/out/prepare/{shard}.tsv"
    conda:
        "../../envs/dicom.yaml"
    threads: 2
    params:
        key=KEY,
        links=LINKS,
        sequences=lambda w: " ".join(shard_sequences(w)),
        cfg=stage_config("deid", "on_bad_input"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus prepare --links {params.links:q} --sequences {params.sequences}"
        " --key {params.key:q} --out {output:q} --threads {threads}"
        " --config {params.cfg:q} > {log:q} 2>&1"


checkpoint collect_prepared:
    # The sequences every shard prepared: the manifest of the rest of the study, and the
    # failed ones (on_bad_input: skip) in a report.
    input:
        manifest="results/manifest.csv",
        shards=all_shards,
    output:
        manifest=STUDY_MANIFEST,
        report="results/reports/failed_sequences.csv",
    log:
        "logs/collect_prepared.log",
    benchmark:
        "benchmarks/out/collect_prepared.tsv"
    conda:
        "../../envs/dicom.yaml"
    shell:
        "dynbus collect-prepared {input.shards:q} --manifest {input.manifest:q}"
        " --out {output.manifest:q} --report {output.report:q} > {log:q} 2>&1"


rule sequence_files:
    # Hard links (no copy) of one sequence's outputs out of its shard, so that each is declared
    # and a deleted one is made again.
    input:
        shard_of_sequence,
    output:
        deid=directory("results/deid/{seq}"),
        audit="results/audit/{seq}.json",
        frames=directory("results/frames/{seq}"),
    log:
        "logs/sequence_files/{seq}.log",
    conda:
        "../../envs/dicom.yaml"
    shell:
        "(cp -al {input:q}/deid/{wildcards.seq} {output.deid:q}"
        " && cp -al {input:q}/audit/{wildcards.seq}.json {output.audit:q}"
        " && cp -al {input:q}/frames/{wildcards.seq} {output.frames:q}) > {log:q} 2>&1"


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
