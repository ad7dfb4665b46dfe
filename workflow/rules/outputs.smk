# Helpers of the report and of the `all` target: the jobs' benchmark files, and every output of
# the study, so that `all` asks for all of them and a deleted one is made again. The outputs
# come from two functions: while the manifest checkpoint is incomplete (one of its outputs
# deleted), Snakemake replaces a function that needs it by the checkpoint's first output only.
import shlex

HIT_IOU = config["evaluate"]["hit_iou"]
# The per-sequence rules: DICOM is de-identified, then split into frames; other inputs are
# imported into frames in one step (import.smk).
PER_SEQUENCE_RULES = (
    ["deidentify", "frames"] if config["source"]["format"] == "dicom" else ["frames"]
)


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
    for name in PER_SEQUENCE_RULES:
        pattern = getattr(rules, name).benchmark
        jobs += [(name, path) for path in expand(pattern, seq=sequence_ids())]
    jobs += [
        ("duplicates", rules.duplicates.benchmark),
        ("split", rules.split.benchmark),
    ]
    jobs += [("train", rules.train.benchmark)]
    jobs += [
        ("infer", path) for path in expand(rules.infer.benchmark, split=["val", "test"])
    ]
    jobs += [("evaluate", rules.evaluate.benchmark), ("tables", rules.tables.benchmark)]
    jobs += [("plots", path) for path in expand(rules.plots.benchmark, iou=HIT_IOU)]
    jobs += [
        ("figures", rules.figures.benchmark),
        ("run_info", rules.run_info.benchmark),
    ]
    jobs += [("video_metrics", rules.video_metrics.benchmark)]
    jobs += [("ablation", rules.ablation.benchmark)]
    jobs += [("overlays", rules.overlays.benchmark)]
    return [(name, str(path)) for name, path in jobs]


def study_outputs(wildcards):
    """Every output of the study's jobs but the per-sequence ones."""
    return [
        *rules.manifest.output,
        *rules.annotations.output,
        *rules.duplicates.output,
        *rules.split.output,
        *rules.train.output,
        *expand(rules.infer.output, split=["val", "test"]),
        *rules.evaluate.output,
        *rules.tables.output,
        *expand(rules.plots.output, iou=HIT_IOU),
        *rules.figures.output,
        *rules.video_metrics.output,
        *rules.ablation.output,
        *rules.overlays.output,
        *rules.run_info.output,
        *rules.timings.output,
        *rules.environment.output,
    ]


def sequence_outputs(wildcards):
    """The per-sequence outputs (known once the manifest checkpoint has run)."""
    patterns = [
        path for name in PER_SEQUENCE_RULES for path in getattr(rules, name).output
    ]
    return expand(patterns, seq=sequence_ids())
