# What the report adds to the results: the resolved configuration and a summary of the jobs'
# benchmark timings.


# Paths to the user's data and the linkage folder stay out of the job's parameters (which
# Snakemake records in .snakemake/metadata) and out of the report.
PRIVATE_CONFIG_KEYS = ("raw_dir", "annotations", "linkage", "source")


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
