"""Statistics: the paper's χ², McNemar, Wilson, cluster bootstrap, FROC envelope."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynbus.protocol import stats

REFERENCE = Path(__file__).resolve().parent / "data" / "paper_table1.csv"  # the paper's Table 1


def test_pearson_chi2_reproduces_the_paper_table1() -> None:
    paper = pd.read_csv(REFERENCE)
    for rate, rows in paper.groupby("fp_rate"):
        s, m = rows.set_index("method").loc["single"], rows.set_index("method").loc["multi"]
        chi2, p = stats.pearson_chi2(s["fn"], s["tp"], m["fn"], m["tp"])
        assert round(chi2, 3) == s["chi2"] and round(p, 3) == s["p"], rate


def test_chi2_is_nan_when_a_margin_is_empty() -> None:
    assert np.isnan(stats.pearson_chi2(0, 10, 0, 12)[0])


def test_mcnemar_exact_counts_discordant_pairs() -> None:
    single = np.array([1, 1, 0, 0, 0, 0, 0, 1], bool)
    multi = np.array([1, 1, 1, 1, 1, 1, 1, 1], bool)
    p, b, c = stats.mcnemar_exact(single, multi)
    assert (b, c) == (0, 5)
    assert p == pytest.approx(2 * 0.5**5)
    assert stats.mcnemar_exact(single, single)[0] == 1.0


def test_wilson_interval_brackets_the_proportion() -> None:
    low, high = stats.wilson(131, 171)
    n, p, z = 171, 131 / 171, 1.959964
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-6)
    assert np.isnan(stats.wilson(0, 0)[0])


def test_cluster_weights_resample_whole_clusters_reproducibly() -> None:
    w = stats.cluster_weights(7, 50, seed=1)
    assert w.shape == (50, 7) and (w.sum(axis=1) == 7).all()
    assert np.array_equal(w, stats.cluster_weights(7, 50, seed=1))
    assert not np.array_equal(w, stats.cluster_weights(7, 50, seed=2))


def test_froc_envelope_equals_naive_maximum() -> None:
    rng = np.random.default_rng(0)
    tp = np.cumsum(rng.integers(0, 3, (20, 30)), axis=1)
    fp = np.cumsum(rng.integers(-1, 3, (20, 30)), axis=1).clip(0)
    fp[:, 0] = tp[:, 0] = 0
    lesions, seqs = np.full(20, 70.0), rng.integers(5, 15, 20).astype(float)
    rates = np.array([0.0, 0.1, 0.5, 1.3])
    got = stats.froc_envelope(tp, fp, lesions, seqs, rates)
    for r in range(20):
        for k, rate in enumerate(rates):
            allowed = fp[r] <= rate * seqs[r]
            assert got[r, k] == tp[r][allowed].max() / 70
