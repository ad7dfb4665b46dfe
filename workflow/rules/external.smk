# External validation (docs/external.md): another site's annotated data through the study's data
# path (de-identification, frames), the model package's detector and its frozen thresholds, and
# the paper's re-set ones; no training. Outputs under results/external/, the site's private
# linkage (key, manifest, links, raw-reading logs) under linkage.dir/external/. Rules of their own
# rather than a second instance of the workflow as a module with `prefix:`: the prefix does not
# reach the paths in params (frames folders, linkage links), it would put the linkage and the
# simulated raw data (fake PHI) under results/external/, and the model must come from a package.
include: "external_data.smk"


if EXT_SIMULATE:

    rule external_simulate:
        output:
            raw=directory(EXT_DEMO_RAW),
            key=EXT_DEMO_KEY,
        log:
            "logs/external/simulate.log",
        benchmark:
            "benchmarks/out/external/simulate.tsv"
        conda:
            "../../envs/dicom.yaml"
        params:
            cfg=json.dumps({"simulate": EXT["simulate"]}, sort_keys=True),
        shell:
            "dynbus simulate --out {output.raw:q} --linkage-key {output.key:q}"
            " --config {params.cfg:q} > {log:q} 2>&1"


rule external_manifest:
    input:
        unpack(external_manifest_input),
    output:
        private=f"{EXT_LINKAGE}/manifest.csv",
        public=f"{EXTERNAL}/manifest.csv",
        skipped=f"{EXTERNAL}/reports/skipped_inputs.csv",
    log:
        f"{EXT_LINKAGE}/logs/manifest.log",
    benchmark:
        "benchmarks/out/external/manifest.tsv"
    conda:
        "../../envs/dicom.yaml"
    threads: 2
    params:
        key=EXT_KEY,
        links=EXT_LINKS,
        annotations=EXT_ANNOTATIONS,
        raw_tree=external_raw_tree,
        cfg=stage_config("on_bad_input", "deid"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus manifest {input.raw:q} --key {params.key:q} --private {output.private:q}"
        " --links {params.links:q} --out {output.public:q} --skipped {output.skipped:q}"
        " --annotations {params.annotations:q} --threads {threads} --config {params.cfg:q}"
        f"{REASON_TO_CONSOLE}"


rule external_prepare:
    # Every sequence of the site in one job (no shards: an external site is small).
    input:
        manifest=f"{EXT_LINKAGE}/manifest.csv",
    output:
        directory(f"{EXTERNAL}/prepared/0"),
    log:
        f"{EXT_LINKAGE}/logs/prepare.log",
    benchmark:
        "benchmarks/out/external/prepare.tsv"
    conda:
        "../../envs/dicom.yaml"
    threads: 2
    params:
        key=EXT_KEY,
        links=EXT_LINKS,
        cfg=stage_config("deid", "on_bad_input"),
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus prepare --links {params.links:q} --key {params.key:q} --out {output:q}"
        f" --threads {{threads}} --config {{params.cfg:q}}{REASON_TO_CONSOLE}"


rule external_collect_prepared:
    input:
        manifest=f"{EXTERNAL}/manifest.csv",
        shard=rules.external_prepare.output,
    output:
        manifest=f"{EXTERNAL}/prepared/manifest.csv",
        report=f"{EXTERNAL}/reports/failed_sequences.csv",
        frames=directory(EXT_FRAMES),
        deid=directory(f"{EXTERNAL}/deid"),
        audit=directory(f"{EXTERNAL}/audit"),
    log:
        "logs/external/collect_prepared.log",
    benchmark:
        "benchmarks/out/external/collect_prepared.tsv"
    conda:
        "../../envs/dicom.yaml"
    shell:
        "dynbus collect-prepared {input.shard:q} --manifest {input.manifest:q}"
        " --out {output.manifest:q} --report {output.report:q} --frames {output.frames:q}"
        " --deid {output.deid:q} --audit {output.audit:q} > {log:q} 2>&1"


rule external_annotations:
    input:
        raw=EXT_DEMO_RAW if EXT_SIMULATE else EXT_ANNOTATIONS_LINK,
        private=f"{EXT_LINKAGE}/manifest.csv",
        public=f"{EXTERNAL}/manifest.csv",
    output:
        annotations=f"{EXTERNAL}/annotations.csv",
        report=f"{EXTERNAL}/reports/bad_annotations.csv",
    log:
        f"{EXT_LINKAGE}/logs/annotations.log",
    benchmark:
        "benchmarks/out/external/annotations.tsv"
    conda:
        "../../envs/dicom.yaml"
    params:
        raw_annotations=EXT_ANNOTATIONS,
        cfg=ANNOTATIONS_CONFIG,
    shell:
        f"{PRIVATE_SHELL}"
        "dynbus annotations {params.raw_annotations:q} --private-manifest {input.private:q}"
        " --manifest {input.public:q} --out {output.annotations:q}"
        " --report {output.report:q} --config {params.cfg:q} > {log:q} 2>&1"


rule external_split:
    # Every sequence of the site is test data.
    input:
        manifest=rules.external_collect_prepared.output.manifest,
        annotations=rules.external_annotations.output.annotations,
    output:
        splits=f"{EXTERNAL}/splits.csv",
        summary=report(
            f"{EXTERNAL}/reports/split_summary.csv",
            caption="../report/external.rst",
            category="External validation",
            labels=external_labels({"item": "data summary"}),
        ),
    log:
        "logs/external/split.log",
    benchmark:
        "benchmarks/out/external/split.tsv"
    conda:
        "../../envs/dicom.yaml"
    shell:
        "dynbus split --all-test --manifest {input.manifest:q} --annotations {input.annotations:q}"
        " --out {output.splits:q} --summary {output.summary:q} > {log:q} 2>&1"


rule external_model:
    # The package's weights, config sections and frozen thresholds, where the rules read them.
    input:
        EXT["package"],
    output:
        model=f"{EXT_MODEL}/detector.pt",
        config=EXT_CONFIG,
        points=f"{EXT_MODEL}/operating_points.csv",
        froc=f"{EXT_MODEL}/development_froc.csv",
    log:
        "logs/external/model.log",
    benchmark:
        "benchmarks/out/external/model.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output.model),
    shell:
        "dynbus external-model {input:q} --out {params.out:q} > {log:q} 2>&1"


rule external_infer:
    input:
        model=rules.external_model.output.model,
        config=EXT_CONFIG,
        frames=EXT_FRAMES,
        splits=rules.external_split.output.splits,
        annotations=rules.external_annotations.output.annotations,
    output:
        detections=f"{EXTERNAL}/detections/test.csv",
        coco=f"{EXTERNAL}/detections/test.coco.json",
    log:
        "logs/external/infer.log",
    benchmark:
        "benchmarks/out/external/infer.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=120,
    shell:
        "dynbus infer --model {input.model:q} --frames {input.frames:q} --splits {input.splits:q}"
        " --split test --out {output.detections:q} --config {input.config:q}"
        " --annotations {input.annotations:q} --workers {threads} > {log:q} 2>&1"


rule external_evaluate:
    # The paper's protocol: thresholds re-set on the site's own detections.
    input:
        detections=rules.external_infer.output.detections,
        annotations=rules.external_annotations.output.annotations,
        splits=rules.external_split.output.splits,
        config=EXT_CONFIG,
    output:
        counts=f"{EXTERNAL}/eval/counts.csv",
        froc=f"{EXTERNAL}/eval/froc.csv",
        bands=f"{EXTERNAL}/eval/froc_bands.csv",
        hits=f"{EXTERNAL}/eval/lesion_hits.csv",
        stats=f"{EXTERNAL}/eval/stats.csv",
        single_frames=f"{EXTERNAL}/eval/single_frames.csv",
        settings=f"{EXTERNAL}/eval/settings.json",
    log:
        "logs/external/evaluate.log",
    benchmark:
        "benchmarks/out/external/evaluate.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output.counts),
    shell:
        "dynbus evaluate --detections {input.detections:q} --annotations {input.annotations:q}"
        " --manifest {input.splits:q} --split test --out {params.out:q}"
        " --config {input.config:q} > {log:q} 2>&1"


rule external_points:
    # The package's thresholds, frozen on the development val split, applied unchanged.
    input:
        points=rules.external_model.output.points,
        detections=rules.external_infer.output.detections,
        annotations=rules.external_annotations.output.annotations,
        splits=rules.external_split.output.splits,
        config=EXT_CONFIG,
    output:
        f"{EXTERNAL}/operating_points.csv",
    log:
        "logs/external/points.log",
    benchmark:
        "benchmarks/out/external/points.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus external-points --points {input.points:q} --test {input.detections:q}"
        " --annotations {input.annotations:q} --manifest {input.splits:q} --out {output:q}"
        " --config {input.config:q} > {log:q} 2>&1"


rule external_tables:
    input:
        counts=rules.external_evaluate.output.counts,
        stats=rules.external_evaluate.output.stats,
    output:
        *table_files(f"{EXTERNAL}/tables", external_labels, "External validation"),
    log:
        "logs/external/tables.log",
    benchmark:
        "benchmarks/out/external/tables.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "dynbus tables --counts {input.counts:q} --stats {input.stats:q} --out {params.out:q}"
        " > {log:q} 2>&1"


rule external_frozen_tables:
    input:
        counts=rules.external_evaluate.output.counts,
        points=rules.external_points.output,
    output:
        *frozen_table_files(
            f"{EXTERNAL}/tables",
            external_labels,
            "External validation",
            "../report/external_frozen.rst",
        ),
    log:
        "logs/external/frozen_tables.log",
    benchmark:
        "benchmarks/out/external/frozen_tables.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "dynbus frozen-tables --counts {input.counts:q} --points {input.points:q}"
        " --evaluated external --out {params.out:q} > {log:q} 2>&1"


rule external_froc:
    input:
        development=rules.external_model.output.froc,
        external=rules.external_evaluate.output.froc,
        points=rules.external_points.output,
    output:
        png=report(
            f"{EXTERNAL}/plots/froc_iou{{iou}}.png",
            caption="../report/external_froc.rst",
            category="External validation",
            labels=external_labels(
                {"figure": "FROC", "IoU": "{iou}", "format": "PNG"}
            ),
        ),
        pdf=f"{EXTERNAL}/plots/froc_iou{{iou}}.pdf",
    log:
        "logs/external/froc/iou{iou}.log",
    benchmark:
        "benchmarks/out/external/froc/iou{iou}.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus external-froc --development {input.development:q} --external {input.external:q}"
        " --points {input.points:q} --iou {wildcards.iou} --out {output.png:q} {output.pdf:q}"
        " > {log:q} 2>&1"


rule external_video_metrics:
    input:
        detections=rules.external_infer.output.detections,
        annotations=rules.external_annotations.output.annotations,
        splits=rules.external_split.output.splits,
        frames=EXT_FRAMES,
        config=EXT_CONFIG,
    output:
        metrics=f"{EXTERNAL}/eval/video_metrics.csv",
        table=report(
            multiext(f"{EXTERNAL}/tables/video_metrics", ".csv", ".md"),
            caption="../report/video_metrics.rst",
            category="External validation",
            labels=external_labels({"table": "video metrics"}),
        ),
    log:
        "logs/external/video_metrics.log",
    benchmark:
        "benchmarks/out/external/video_metrics.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        table=lambda w, output: os.path.splitext(output.table[0])[0],
    shell:
        "dynbus video-metrics --detections {input.detections:q} --annotations {input.annotations:q}"
        " --manifest {input.splits:q} --split test --frames {input.frames:q}"
        " --out {output.metrics:q} --table {params.table:q} --config {input.config:q}"
        " > {log:q} 2>&1"


rule external:
    input:
        external_outputs,


# Which masses the package misses on the site (docs/subgroups.md): the study's subgroup rules on
# the site's lesion hits, at the site's re-set operating points.
use rule subgroups as external_subgroups with:
    input:
        hits=rules.external_evaluate.output.hits,
        annotations=rules.external_annotations.output.annotations,
        frames=EXT_FRAMES,
    output:
        lesions=f"{EXTERNAL}/subgroups/lesions.csv",
        subgroups=f"{EXTERNAL}/subgroups/subgroups.csv",
        heterogeneity=f"{EXTERNAL}/subgroups/heterogeneity.csv",
    log:
        "logs/external/subgroups.log",
    benchmark:
        "benchmarks/out/external/subgroups.tsv"
    params:
        cfg=stage_config("subgroups"),
        frames=EXT_FRAMES,
        out=lambda w, output: os.path.dirname(output.subgroups),


use rule forest as external_forest with:
    input:
        subgroups=rules.external_subgroups.output.subgroups,
        heterogeneity=rules.external_subgroups.output.heterogeneity,
    output:
        png=report(
            f"{EXTERNAL}/subgroups/forest.png",
            caption="../report/forest.rst",
            category="External validation",
            labels=external_labels({"figure": "forest plot", "format": "PNG"}),
        ),
        table=report(
            f"{EXTERNAL}/subgroups/subgroups.html",
            caption="../report/subgroups.rst",
            category="External validation",
            labels=external_labels({"table": "subgroups", "format": "HTML"}),
        ),
    log:
        "logs/external/forest.log",
    benchmark:
        "benchmarks/out/external/forest.tsv"
