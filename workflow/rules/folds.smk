# k-fold cross-validation (split.folds: k > 1): every rule from split to the per-fold tables and
# plots gets a {fold} wildcard (1..k) and writes under results/folds/{fold}/ (its log and benchmark
# under logs/folds/{fold}/, benchmarks/out/folds/{fold}/); pool.smk pools the folds into the single
# split's results/eval/, tables/ and plots/. With one fold every path is the single split's.
from dynbus.dataset.split import check_folds

FOLDS = config["split"]["folds"]
FOLD_IDS = [str(fold) for fold in range(1, FOLDS + 1)]
FOLD = "folds/{fold}/" if FOLDS > 1 else ""
if SIMULATE and FOLDS > 1:
    try:
        check_folds(config["simulate"]["patients"], FOLDS)
    except DynbusError as error:
        sys.exit(f"dynbus: config error: {error}")


def per_fold(patterns, **wildcards):
    """``expand(patterns, **wildcards)`` over every fold (the single split has no {fold})."""
    folds = {"fold": FOLD_IDS} if FOLDS > 1 else {}
    return expand(patterns, **folds, **wildcards)


def fold_labels(labels):
    """Report labels, with the fold when there are several."""
    return {**labels, "fold": "{fold}"} if FOLDS > 1 else labels


def pooled_labels(labels):
    """Report labels of a pooled table or plot."""
    return {**labels, "fold": "pooled"}


def study_labels(labels):
    """Report labels of a result over the whole test set: pooled when there are several folds."""
    return pooled_labels(labels) if FOLDS > 1 else labels
