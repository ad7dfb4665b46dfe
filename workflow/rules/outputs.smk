# Helpers of the report and of the `all` target: the jobs' benchmark files, and every output of
# the study, so that `all` asks for all of them and a deleted one is made again. The outputs
# come from two functions: while the manifest checkpoint is incomplete (one of its outputs
# deleted), Snakemake replaces a function that needs it by the checkpoint's first output only.
import shlex

# `report(` opening a line of Python code would be read as the report directive.
from snakemake.io import report as report_item

HIT_IOU = config["evaluate"]["hit_iou"]


def data_stage_jobs():
    """(rule, benchmark TSV) of the jobs between manifest and duplicate check: DICOM is prepared
    in shards (prepare.smk), other inputs are imported sequence by sequence (import.smk).
    """
    if not DICOM:
        return [
            ("frames", path)
            for path in expand(rules.frames.benchmark, seq=sequence_ids())
        ]
    shards = range(len(prepare_shards()))
    return [
        ("prepare", path) for path in expand(rules.prepare.benchmark, shard=shards)
    ] + [("collect_prepared", rules.collect_prepared.benchmark)]


def job_benchmarks(wildcards):
    """(rule, benchmark TSV) of every job of the study, in DAG order."""
    jobs = (
        [("simulate", rules.simulate.benchmark)]
        if config["simulate"]["enabled"]
        else []
    )
    jobs += [
        ("manifest", rules.manifest.benchmark),
        ("annotations", rules.annotations.benchmark),
    ]
    jobs += data_stage_jobs()
    jobs += [("duplicates", rules.duplicates.benchmark)]
    jobs += [("split", path) for path in per_fold(rules.split.benchmark)]
    jobs += [("train", path) for path in per_fold(rules.train.benchmark)]
    jobs += [
        ("infer", path)
        for path in per_fold(rules.infer.benchmark, split=["val", "test"])
    ]
    jobs += [("evaluate", path) for path in per_fold(rules.evaluate.benchmark)]
    jobs += [("tables", path) for path in per_fold(rules.tables.benchmark)]
    jobs += [
        ("operating_points", path)
        for path in per_fold(rules.operating_points.benchmark)
    ]
    jobs += [
        ("frozen_tables", path) for path in per_fold(rules.frozen_tables.benchmark)
    ]
    jobs += [("plots", path) for path in per_fold(rules.plots.benchmark, iou=HIT_IOU)]
    jobs += [("figures", path) for path in per_fold(rules.figures.benchmark)]
    jobs += [("run_info", rules.run_info.benchmark)]
    jobs += [("headline", rules.headline.benchmark)]
    jobs += [
        ("video_metrics", path) for path in per_fold(rules.video_metrics.benchmark)
    ]
    jobs += [("ablation", path) for path in per_fold(rules.ablation.benchmark)]
    jobs += [("overlays", path) for path in per_fold(rules.overlays.benchmark)]
    if FOLDS > 1:
        jobs += [
            ("pool", rules.pool.benchmark),
            ("pooled_tables", rules.pooled_tables.benchmark),
            ("pooled_frozen_tables", rules.pooled_frozen_tables.benchmark),
        ]
        jobs += [
            ("pooled_plots", path)
            for path in expand(rules.pooled_plots.benchmark, iou=HIT_IOU)
        ]
    jobs += [
        ("subgroups", rules.subgroups.benchmark),
        ("forest", rules.forest.benchmark),
    ]
    return [(name, str(path)) for name, path in jobs]


def study_outputs(wildcards):
    """Every output of the study's jobs but the per-sequence ones."""
    outputs = [
        *rules.manifest.output,
        *rules.annotations.output,
        *rules.duplicates.output,
        *per_fold(rules.split.output),
        *per_fold(rules.train.output),
        *per_fold(rules.infer.output, split=["val", "test"]),
        *per_fold(rules.evaluate.output),
        *per_fold(rules.tables.output),
        *per_fold(rules.operating_points.output),
        *per_fold(rules.frozen_tables.output),
        *per_fold(rules.plots.output, iou=HIT_IOU),
        *per_fold(rules.figures.output),
        *per_fold(rules.video_metrics.output),
        *per_fold(rules.ablation.output),
        *per_fold(rules.overlays.output),
        *rules.run_info.output,
        *rules.headline.output,
        *rules.timings.output,
        *rules.environment.output,
        *rules.subgroups.output,
        *rules.forest.output,
    ]
    if FOLDS > 1:
        outputs += [
            *rules.pool.output,
            *rules.pooled_tables.output,
            *rules.pooled_frozen_tables.output,
            *expand(rules.pooled_plots.output, iou=HIT_IOU),
        ]
    return outputs


def sequence_outputs(wildcards):
    """The per-sequence outputs (known once the manifest checkpoint has run): for DICOM the
    shards and the folders they are gathered into, else each sequence's import."""
    if not DICOM:
        return expand(rules.frames.output, seq=sequence_ids())
    return [*all_shards(wildcards), *rules.collect_prepared.output]


def table_files(folder, label, category="Tables"):
    """The files `dynbus tables` writes into ``folder``; ``label`` completes the report labels,
    shown under the report's ``category``."""
    return [
        *[
            report_item(
                f"{folder}/{stem}.html",
                caption="../report/tables.rst",
                category=category,
                labels=label({"table": f"Table {stem[-1]}", "IoU": f"{iou:g}"}),
            )
            for stem, iou in PAPER_TABLES.items()
        ],
        report_item(
            f"{folder}/extended.html",
            caption="../report/extended.rst",
            category=category,
            labels=label({"table": "extended statistics", "IoU": "all"}),
        ),
        *expand(
            f"{folder}/{{stem}}.{{ext}}",
            stem=PAPER_TABLES,
            ext=["csv", "md", "tex"],
            allow_missing=True,
        ),
        f"{folder}/extended.csv",
        f"{folder}/extended.md",
    ]


def frozen_table_files(
    folder, label, category="Tables", caption="../report/frozen.rst"
):
    """The files `dynbus frozen-tables` writes into ``folder`` (the HTML page in the report)."""
    return [
        report_item(
            f"{folder}/frozen.html",
            caption=caption,
            category=category,
            labels=label({"table": "paper vs frozen thresholds", "IoU": "all"}),
        ),
        f"{folder}/frozen.csv",
        f"{folder}/frozen.md",
    ]
