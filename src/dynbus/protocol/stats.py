"""Statistics of single vs multi-frame sensitivity: the paper's χ² and what it should have done.

Pearson χ² without continuity correction on ``[[FN_single, TP_single], [FN_multi, TP_multi]]``
(reproduces the paper), exact McNemar on the paired lesions, Wilson 95 % CIs, Newcombe's CI of
a paired difference, the test of equal multi-frame gain across subgroups, and a patient-level
cluster bootstrap.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2_contingency
from statsmodels.stats.contingency_tables import Table, mcnemar
from statsmodels.stats.proportion import proportion_confint


def pearson_chi2(
    fn_single: int, tp_single: int, fn_multi: int, tp_multi: int
) -> tuple[float, float]:
    """The paper's χ² and P (no continuity correction); NaN when a margin is zero."""
    table = np.array([[fn_single, tp_single], [fn_multi, tp_multi]])
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return float("nan"), float("nan")
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def mcnemar_exact(single_hit: np.ndarray, multi_hit: np.ndarray) -> tuple[float, int, int]:
    """Exact McNemar P on paired lesion hits, with the discordant counts (b, c).

    b = lesions hit by single only, c = by multi only. P is 1 when there is no discordant pair.
    """
    single_hit = np.asarray(single_hit, dtype=bool)
    multi_hit = np.asarray(multi_hit, dtype=bool)
    b = int(np.count_nonzero(single_hit & ~multi_hit))
    c = int(np.count_nonzero(~single_hit & multi_hit))
    both = int(np.count_nonzero(single_hit & multi_hit))
    neither = int(np.count_nonzero(~single_hit & ~multi_hit))
    result = mcnemar(np.array([[both, b], [c, neither]]), exact=True)
    return float(result.pvalue), b, c


def wilson(successes: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN when ``total`` is 0)."""
    if total == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(successes, total, alpha=1 - level, method="wilson")
    return float(low), float(high)


def paired_difference_ci(
    both: int, first_only: int, second_only: int, neither: int, level: float = 0.95
) -> tuple[float, float]:
    """CI of ``p_second - p_first`` from paired outcomes: Newcombe's (1998) method 10, which
    combines the two Wilson intervals with the phi correlation of the pairs (NaN with no pair).

    ``both``/``neither``: pairs where both / neither succeed; ``first_only``/``second_only``: the
    discordant pairs. Stays inside [-1, 1] and is defined when a proportion is 0 or 1.
    """
    n = both + first_only + second_only + neither
    if n == 0:
        return float("nan"), float("nan")
    p1, p2 = (both + first_only) / n, (both + second_only) / n
    l1, u1 = wilson(both + first_only, n, level)
    l2, u2 = wilson(both + second_only, n, level)
    margins = (
        (both + first_only)
        * (second_only + neither)
        * (both + second_only)
        * (first_only + neither)
    )
    phi = (both * neither - first_only * second_only) / np.sqrt(margins) if margins else 0.0
    lower = np.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    upper = np.sqrt((u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2)
    return float(p2 - p1 - lower), float(p2 - p1 + upper)


def gain_heterogeneity(first_only: np.ndarray, second_only: np.ndarray) -> tuple[float, int, float]:
    """Does the paired difference differ between subgroups? Pearson χ² of homogeneity on the
    subgroups' discordant pairs (a K x 2 table of first-only, second-only counts): the score test
    of the subgroup x method interaction in a conditional logistic model of the paired outcomes.

    Returns (χ², degrees of freedom, P); subgroups without a discordant pair carry no information
    and are left out; NaN (df 0) when fewer than two remain or all discordant pairs go one way.
    """
    table = np.column_stack([first_only, second_only]).astype(float)
    table = table[table.sum(axis=1) > 0]
    if len(table) < 2 or (table.sum(axis=0) == 0).any():
        return float("nan"), 0, float("nan")
    result = Table(table, shift_zeros=False).test_nominal_association()
    return float(result.statistic), int(result.df), float(result.pvalue)


def cluster_weights(n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n_clusters)`` counts: how often each cluster is drawn, with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
    weights = np.zeros((n_resamples, n_clusters), dtype=np.float64)
    np.add.at(weights, (np.arange(n_resamples)[:, None], draws), 1.0)
    return weights


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval, ignoring NaN resamples."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def froc_envelope(
    tp: np.ndarray, fp: np.ndarray, lesions: np.ndarray, sequences: np.ndarray, rates: np.ndarray
) -> np.ndarray:
    """Sensitivity at each FP-per-sequence rate: the best TP among thresholds with FP <= rate.

    ``tp``/``fp`` are ``(R, T)`` integer-valued totals of R (re)samples over T thresholds (one
    threshold must have FP = 0), ``lesions``/``sequences`` their ``(R,)`` totals. Returns
    ``(R, len(rates))``, NaN where a sample has no lesion.
    """
    tp, fp = np.asarray(tp, dtype=float), np.asarray(fp, dtype=float)
    limits = np.floor(np.outer(sequences, rates) + 1e-9).astype(np.int64)  # max FP allowed
    top = int(limits.max(initial=0))
    rows, cols = np.nonzero(fp <= top)
    best = np.full((len(tp), top + 1), -1.0)
    np.maximum.at(best, (rows, fp[rows, cols].astype(np.int64)), tp[rows, cols])
    best = np.maximum.accumulate(best, axis=1)
    found = np.take_along_axis(best, limits, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            np.asarray(lesions)[:, None] > 0, found / np.asarray(lesions)[:, None], np.nan
        )
