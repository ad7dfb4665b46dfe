# The trained model after the study: operating points frozen on val and applied to test, the
# test results both ways, and the model package with its card (docs/model.md).


rule operating_points:
    input:
        val=f"results/{FOLD}detections/val.csv",
        test=f"results/{FOLD}detections/test.csv",
        annotations="results/annotations.csv",
        splits=f"results/{FOLD}splits.csv",
    output:
        f"results/{FOLD}model/operating_points.csv",
    log:
        f"logs/{FOLD}operating_points.log",
    benchmark:
        f"benchmarks/out/{FOLD}operating_points.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("single_frame", "fusion", "evaluate"),
    shell:
        "dynbus operating-points --val {input.val:q} --test {input.test:q}"
        " --annotations {input.annotations:q} --manifest {input.splits:q} --out {output:q}"
        " --config {params.cfg:q} > {log:q} 2>&1"


rule frozen_tables:
    input:
        counts=rules.evaluate.output.counts,
        points=rules.operating_points.output,
    output:
        *frozen_table_files(f"results/{FOLD}tables", fold_labels),
    log:
        f"logs/{FOLD}frozen_tables.log",
    benchmark:
        f"benchmarks/out/{FOLD}frozen_tables.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "dynbus frozen-tables --counts {input.counts:q} --points {input.points:q}"
        " --out {params.out:q} > {log:q} 2>&1"


# What the package and its card read from the config: the package's sections (CONFIG_SECTIONS of
# dynbus.model.package), the card's, and the source format alone (source names private paths).
MODEL_SECTIONS = ("deid", "model", "infer", "single_frame", "fusion", "evaluate")
MODEL_SECTIONS += ("reproducibility", "simulate", "split", "train")
MODEL_CONFIG = json.dumps(
    {
        **{name: config[name] for name in MODEL_SECTIONS},
        "source": {"format": config["source"]["format"]},
    },
    sort_keys=True,
)


# After the fingerprint (which it packages), so not one of the study's fingerprinted outputs.
rule package:
    input:
        model=rules.train.output.model,
        points=rules.operating_points.output,
        counts=rules.evaluate.output.counts,
        froc=rules.evaluate.output.froc,
        summary=rules.split.output.summary,
        hits=rules.evaluate.output.hits,
        annotations="results/annotations.csv",
        fingerprint=rules.fingerprint.output.stages,
        environment=rules.environment.output.json,
    output:
        package=directory(f"results/{FOLD}model/package"),
        archive=f"results/{FOLD}model/dynbus-model.zip",
        card=report(
            f"results/{FOLD}model/model_card.html",
            caption="../report/model_card.rst",
            category="Model",
            labels=fold_labels({"item": "model card"}),
        ),
    log:
        f"logs/{FOLD}package.log",
    benchmark:
        f"benchmarks/out/{FOLD}package.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=MODEL_CONFIG,
    shell:
        "dynbus package --model {input.model:q} --points {input.points:q}"
        " --counts {input.counts:q} --froc {input.froc:q} --split-summary {input.summary:q} --hits {input.hits:q}"
        " --annotations {input.annotations:q} --fingerprint {input.fingerprint:q}"
        " --environment {input.environment:q} --out {output.package:q}"
        " --archive {output.archive:q} --card-html {output.card:q} --config {params.cfg:q}"
        " > {log:q} 2>&1"


if FOLDS > 1:

    localrules:
        pooled_frozen_tables,

    rule pooled_frozen_tables:
        input:
            counts=rules.pool.output.counts,
            points=per_fold(rules.operating_points.output),
        output:
            *frozen_table_files("results/tables", pooled_labels),
        log:
            "logs/pooled_frozen_tables.log",
        benchmark:
            "benchmarks/out/pooled_frozen_tables.tsv"
        conda:
            "../../envs/stats.yaml"
        params:
            out=lambda w, output: os.path.dirname(output[0]),
        shell:
            "dynbus frozen-tables --counts {input.counts:q} --points {input.points:q}"
            " --out {params.out:q} > {log:q} 2>&1"
