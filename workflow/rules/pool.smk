# k-fold cross-validation (split.folds > 1): the folds' test results pooled into results/eval/,
# the paper's tables with pooled counts and the folds' mean ± SE, and the pooled FROC plots.


localrules:
    pool,
    pooled_tables,
    pooled_plots,


rule pool:
    input:
        per_fold(rules.evaluate.output),
    output:
        counts="results/eval/counts.csv",
        fold_counts="results/eval/fold_counts.csv",
        fold_summary="results/eval/fold_summary.csv",
        hits="results/eval/lesion_hits.csv",
        stats="results/eval/stats.csv",
        bands="results/eval/froc_bands.csv",
    log:
        "logs/pool.log",
    benchmark:
        "benchmarks/out/pool.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        cfg=stage_config("fusion", "evaluate"),
        folds=lambda w: " ".join(
            shlex.quote(os.path.dirname(path))
            for path in per_fold(rules.evaluate.output.counts)
        ),
        out=lambda w, output: os.path.dirname(output.counts),
    shell:
        "dynbus pool --folds {params.folds} --out {params.out:q} --config {params.cfg:q}"
        " > {log:q} 2>&1"


rule pooled_tables:
    input:
        counts=rules.pool.output.counts,
        stats=rules.pool.output.stats,
        fold_summary=rules.pool.output.fold_summary,
    output:
        *table_files("results/tables", pooled_labels),
    log:
        "logs/pooled_tables.log",
    benchmark:
        "benchmarks/out/pooled_tables.tsv"
    conda:
        "../../envs/stats.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "dynbus tables --counts {input.counts:q} --stats {input.stats:q}"
        " --fold-summary {input.fold_summary:q} --out {params.out:q} > {log:q} 2>&1"


rule pooled_plots:
    input:
        counts=rules.pool.output.counts,
        bands=rules.pool.output.bands,
        stats=rules.pool.output.stats,
        folds=per_fold(rules.evaluate.output.bands),
    output:
        png=report(
            "results/plots/froc_iou{iou}.png",
            caption="../report/froc_png.rst",
            category="FROC",
            labels=pooled_labels({"figure": "FROC", "IoU": "{iou}", "format": "PNG"}),
        ),
        pdf=report(
            "results/plots/froc_iou{iou}.pdf",
            caption="../report/froc_pdf.rst",
            category="FROC",
            labels=pooled_labels({"figure": "FROC", "IoU": "{iou}", "format": "PDF"}),
        ),
    log:
        "logs/pooled_plots/iou{iou}.log",
    benchmark:
        "benchmarks/out/pooled_plots/iou{iou}.tsv"
    conda:
        "../../envs/stats.yaml"
    shell:
        "dynbus plots --counts {input.counts:q} --bands {input.bands:q} --stats {input.stats:q}"
        " --fold-bands {input.folds:q} --iou {wildcards.iou} --out {output.png:q} {output.pdf:q}"
        " > {log:q} 2>&1"
