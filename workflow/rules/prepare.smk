# Raw DICOM -> pseudonymous sequences -> de-identified DICOM -> PNG frames; annotations re-keyed.
# Rules that read raw data log into the private linkage folder: raw names may carry PHI. They
# reach the raw data through links named by pseudonyms (data.smk, LINKS), never by raw paths.
# Cheap bookkeeping: on a cluster these run on the submitting node, not as jobs.
localrules:
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
    threads: 2
    params:
        key=KEY,
        links=LINKS,
        annotations=raw_annotations,
        raw_tree=raw_tree_digest,
        cfg=stage_config("on_bad_input", "deid"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus manifest {input.raw:q} --key {params.key:q} --private {output.private:q}"
        " --links {params.links:q} --out {output.public:q} --skipped {output.skipped:q}"
        " --annotations {params.annotations:q} --threads {threads} --config {params.cfg:q}"
        f"{REASON_TO_CONSOLE}"


rule prepare:
    # One process per shard of SHARD_SIZE sequences (prepare_shards): deidentify + frames of each
    # sequence, each sequence's failure on its own (on_bad_input). Rule collect_prepared links
    # the per-sequence outputs out of the shards. The raw files are not inputs: the manifest
    # re-runs when one changes (raw_tree_digest), and listing them cost the scheduler a stat of
    # every raw file of every waiting shard each time a job ended.
    input:
        manifest=f"{LINKAGE}/manifest.csv",
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
        f" --config {{params.cfg:q}}{REASON_TO_CONSOLE}"


rule collect_prepared:
    # The sequences every shard prepared: the manifest of the rest of the study, the failed ones
    # (on_bad_input: skip) in a report, and their outputs hard-linked (no copy) out of the shards
    # into the per-sequence folders every later stage reads.
    input:
        manifest="results/manifest.csv",
        shards=all_shards,
    output:
        manifest=STUDY_MANIFEST,
        report="results/reports/failed_sequences.csv",
        frames=directory(FRAMES),
        deid=directory("results/deid"),
        audit=directory("results/audit"),
    log:
        "logs/collect_prepared.log",
    benchmark:
        "benchmarks/out/collect_prepared.tsv"
    conda:
        "../../envs/dicom.yaml"
    shell:
        "dynbus collect-prepared {input.shards:q} --manifest {input.manifest:q}"
        " --out {output.manifest:q} --report {output.report:q} --frames {output.frames:q}"
        " --deid {output.deid:q} --audit {output.audit:q} > {log:q} 2>&1"


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
        cfg=ANNOTATIONS_CONFIG,
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus annotations {params.raw_annotations:q} --private-manifest {input.private:q}"
        " --manifest {input.public:q} --out {output.annotations:q}"
        " --report {output.report:q} --config {params.cfg:q} > {log:q} 2>&1"
