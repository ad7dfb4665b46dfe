# What the report adds to the results: the resolved configuration and a summary of the jobs'
# benchmark timings.


# Paths to the user's data and the linkage folder stay out of the job's parameters (which
# Snakemake records in .snakemake/metadata) and out of the report; so does the external site's
# section, which names its raw folder and key.
PRIVATE_CONFIG_KEYS = ("raw_dir", "annotations", "linkage", "source", "external")


rule run_info:
    output:
        config=report(
            "results/reports/config.yaml",
            caption="../report/config.rst",
            category="Run information",
            labels={"item": "resolved configuration"},
        ),
    log:
        "logs/run_info.log",
    benchmark:
        "benchmarks/out/run_info.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config(*(name for name in config if name not in PRIVATE_CONFIG_KEYS)),
    shell:
        "dynbus runinfo --config {params.cfg:q} --config-out {output.config:q} > {log:q} 2>&1"


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
    log:
        "logs/timings.log",
    benchmark:
        "benchmarks/out/timings.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        jobs=lambda w: " ".join(
            shlex.quote(f"{name}={path}") for name, path in job_benchmarks(w)
        ),
    shell:
        "dynbus timings {params.jobs} --csv {output.csv:q} --html {output.html:q} > {log:q} 2>&1"


rule headline:
    input:
        counts="results/eval/counts.csv",
        stats="results/eval/stats.csv",
        fold_summary=["results/eval/fold_summary.csv"] if FOLDS > 1 else [],
        froc=f"results/plots/froc_iou{EXAMPLE_IOU}.png",
    output:
        report(
            "results/reports/headline.html",
            caption="../report/headline.rst",
            category="Summary",
            labels={"item": "first page: Tables 1-2 and FROC"},
        ),
    log:
        "logs/headline.log",
    benchmark:
        "benchmarks/out/headline.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        fold_summary=lambda w, input: (
            f" --fold-summary {shlex.quote(input.fold_summary[0])}"
            if input.fold_summary
            else ""
        ),
    shell:
        "dynbus headline --counts {input.counts:q} --stats {input.stats:q}{params.fold_summary}"
        " --froc {input.froc:q} --out {output:q} > {log:q} 2>&1"
