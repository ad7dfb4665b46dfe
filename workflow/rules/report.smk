# What the report adds to the results: the resolved config, software versions, job timings;
# and the outputs that `rule all` asks for: all of them, so that a deleted one is made again. Two
# functions: while the manifest checkpoint is incomplete (one of its outputs deleted), Snakemake
# replaces a function that needs it by the checkpoint's first output only.
import shlex

from snakemake import __version__ as SNAKEMAKE_VERSION

HIT_IOU = config["evaluate"]["hit_iou"]


def job_benchmarks(wildcards):
    """(rule, benchmark TSV) of every job of the study, in DAG order."""
    jobs = [("simulate", rules.simulate.benchmark)] if config["simulate"]["enabled"] else []
    jobs += [("manifest", rules.manifest.benchmark), ("annotations", rules.annotations.benchmark)]
    for rule in ("deidentify", "frames"):
        pattern = getattr(rules, rule).benchmark
        jobs += [(rule, path) for path in expand(pattern, seq=sequence_ids())]
    jobs += [("split", rules.split.benchmark), ("train", rules.train.benchmark)]
    jobs += [("infer", path) for path in expand(rules.infer.benchmark, split=["val", "test"])]
    jobs += [("evaluate", rules.evaluate.benchmark), ("tables", rules.tables.benchmark)]
    jobs += [("plots", path) for path in expand(rules.plots.benchmark, iou=HIT_IOU)]
    jobs += [("figures", rules.figures.benchmark)]
    return [(rule, str(path)) for rule, path in jobs]


def study_outputs(wildcards):
    """Every output of the study's jobs but the per-sequence ones."""
    return [
        *rules.manifest.output,
        *rules.annotations.output,
        *rules.split.output,
        *rules.train.output,
        *expand(rules.infer.output, split=["val", "test"]),
        *rules.evaluate.output,
        *rules.tables.output,
        *expand(rules.plots.output, iou=HIT_IOU),
        *rules.figures.output,
        *rules.run_info.output,
        *rules.timings.output,
    ]


def sequence_outputs(wildcards):
    """The per-sequence outputs (known once the manifest checkpoint has run)."""
    return expand([*rules.deidentify.output, *rules.frames.output], seq=sequence_ids())


rule run_info:
    output:
        config=report(
            "results/reports/config.yaml",
            caption="../report/config.rst",
            category="Run information",
            labels={"item": "resolved configuration"},
        ),
        versions=report(
            "results/reports/versions.html",
            caption="../report/versions.rst",
            category="Run information",
            labels={"item": "software versions"},
        ),
        versions_csv="results/reports/versions.csv",
    params:
        cfg=stage_config(*config),
        snakemake=SNAKEMAKE_VERSION,
    log:
        "logs/run_info.log",
    conda:
        "../../envs/torch.yaml"
    shell:
        "dynbus runinfo --config {params.cfg:q} --config-out {output.config:q}"
        " --versions-csv {output.versions_csv:q} --versions-html {output.versions:q}"
        " --snakemake {params.snakemake} > {log:q} 2>&1"


rule timings:
    input:
        lambda w: [path for _, path in job_benchmarks(w)],
    output:
        html=report(
            "results/reports/timings.html",
            caption="../report/timings.rst",
            category="Run information",
            labels={"item": "benchmark timings"},
        ),
        csv="results/reports/timings.csv",
    params:
        jobs=lambda w: " ".join(shlex.quote(f"{rule}={path}") for rule, path in job_benchmarks(w)),
    log:
        "logs/timings.log",
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus timings {params.jobs} --csv {output.csv:q} --html {output.html:q} > {log:q} 2>&1"
