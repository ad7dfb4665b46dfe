"""``dynbus pool`` over hand-built folds, then the pooled tables and FROC plot (real CLI)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests import in_process
from tests.output_checks import assert_drawn, assert_table_shows_the_counts

# Two folds' paired lesion hits (single, multi) at IoU 0.2 and 0.1 / 0.5 FP per sequence.
HITS = {
    1: {0.1: ([1, 1, 0, 0, 0], [1, 1, 1, 0, 0]), 0.5: ([1, 1, 1, 0, 0], [1, 1, 1, 1, 0])},
    2: {0.1: ([1, 0, 0, 0], [1, 1, 1, 0]), 0.5: ([0, 1, 1, 1], [1, 1, 1, 1])},
}
PATIENTS = {1: ["A1", "A1", "A2", "A3", "A3"], 2: ["B1", "B1", "B2", "B2"]}
SEQUENCES = {1: 3, 2: 2}
# Each fold's FROC curve (sensitivity at 0, 0.5, 1 FP per sequence) per method.
CURVES = {
    1: {"single": [0.2, 0.6, 0.6], "multi": [0.4, 0.8, 1.0]},
    2: {"single": [0.25, 0.75, 1.0], "multi": [0.5, 1.0, 1.0]},
}
CONFIG = '{"evaluate": {"bootstrap": 200, "seed": 1}}'


def dynbus(*args: str) -> subprocess.CompletedProcess:
    return in_process.dynbus(*args)


def write_fold(folder: Path, fold: int) -> None:
    """The four files of a fold's ``dynbus evaluate`` folder that pooling reads."""
    folder.mkdir(parents=True)
    counts, hits = [], []
    for rate, pair in HITS[fold].items():
        for method, hit in zip(("single", "multi"), pair, strict=True):
            tp = sum(hit)
            counts.append([0.2, rate, method, tp, len(hit) - tp, int(rate * 10), tp / len(hit),
                           SEQUENCES[fold], 0.9 - rate])  # fmt: skip
        for k, (single, multi) in enumerate(zip(*pair, strict=True)):
            hits.append([0.2, rate, f"S{fold}{k}", PATIENTS[fold][k], "L0", single, multi])
    pd.DataFrame(counts, columns=["iou", "fp_rate", "method", "tp", "fn", "fp", "sensitivity",
                                  "n_sequences", "threshold"]).to_csv(folder / "counts.csv",
                                                                     index=False)  # fmt: skip
    pd.DataFrame(hits, columns=["iou", "fp_rate", "sequence_id", "patient_id", "lesion_id",
                                "single", "multi"]).to_csv(folder / "lesion_hits.csv",
                                                           index=False)  # fmt: skip
    bands = [
        [method, 0.2, rate, sens, 0.0, 1.0]
        for method, curve in CURVES[fold].items()
        for rate, sens in zip([0.0, 0.5, 1.0], curve, strict=True)
    ]
    pd.DataFrame(
        bands, columns=["method", "iou", "fp_per_sequence", "sensitivity", "low", "high"]
    ).to_csv(folder / "froc_bands.csv", index=False)
    n_patients = len(set(PATIENTS[fold]))
    pd.DataFrame(
        {"iou": [0.2], "fp_rate": [0.1], "n_sequences": [SEQUENCES[fold]],
         "n_patients": [n_patients], "fusion_order": ["threshold_then_group"]}
    ).to_csv(folder / "stats.csv", index=False)  # fmt: skip


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("folds")
    for fold in HITS:
        write_fold(root / str(fold), fold)
    out = root / "eval"
    result = dynbus("pool", "--folds", str(root / "1"), str(root / "2"), "--out", str(out),
                    "--config", CONFIG)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_pooled_counts_sum_the_folds(pooled: Path):
    counts = pd.read_csv(pooled / "counts.csv").set_index(["fp_rate", "method"])
    assert counts.loc[(0.1, "single"), ["tp", "fn", "n_sequences"]].tolist() == [3, 6, 5]
    assert counts.loc[(0.5, "multi"), ["tp", "fn"]].tolist() == [8, 1]
    assert counts.loc[(0.1, "multi"), "sensitivity"] == pytest.approx(6 / 9)
    assert counts["threshold"].isna().all()  # one threshold per fold, none pooled
    folds = pd.read_csv(pooled / "fold_counts.csv")
    assert folds["fold"].tolist() == [1, 1, 1, 1, 2, 2, 2, 2]


def test_fold_mean_and_standard_error(pooled: Path):
    summary = pd.read_csv(pooled / "fold_summary.csv").set_index(["fp_rate", "method"])
    assert summary.loc[(0.1, "single"), "n_folds"] == 2
    assert summary.loc[(0.1, "single"), "mean_sensitivity"] == pytest.approx((0.4 + 0.25) / 2)
    # SE of two values a, b: SD / √2 = |a - b| / 2
    assert summary.loc[(0.1, "single"), "se_sensitivity"] == pytest.approx(0.075)
    assert summary.loc[(0.5, "multi"), "mean_sensitivity"] == pytest.approx((0.8 + 1.0) / 2)
    assert summary.loc[(0.5, "multi"), "se_sensitivity"] == pytest.approx(0.1)


def test_one_mcnemar_on_the_summed_discordant_pairs(pooled: Path):
    stats = pd.read_csv(pooled / "stats.csv").set_index("fp_rate")
    # 0.1 FP/seq: multi alone hits 1 + 2 lesions, single alone none: exact P = 2 / 2^3
    assert stats.loc[0.1, ["single_only", "multi_only"]].tolist() == [0, 3]
    assert stats.loc[0.1, "mcnemar_p"] == pytest.approx(0.25)
    assert stats.loc[0.5, ["single_only", "multi_only"]].tolist() == [0, 2]
    assert stats.loc[0.5, "mcnemar_p"] == pytest.approx(0.5)
    assert stats.loc[0.5, "single_sensitivity"] == pytest.approx(6 / 9)
    assert stats.loc[0.1, ["n_sequences", "n_patients"]].tolist() == [5, 5]
    for rate in (0.1, 0.5):
        row = stats.loc[rate]
        assert row["single_boot_low"] <= row["single_sensitivity"] <= row["single_boot_high"]


def test_pooled_froc_weights_the_folds_by_their_lesions(pooled: Path):
    bands = pd.read_csv(pooled / "froc_bands.csv")
    single = bands[bands["method"] == "single"]["sensitivity"].to_numpy()
    np.testing.assert_allclose(single, [(1 + 1) / 9, (3 + 3) / 9, (3 + 4) / 9])
    assert bands[["low", "high"]].isna().all().all()


def test_pooled_tables_and_plot(pooled: Path, tmp_path: Path):
    tables = tmp_path / "tables"
    result = dynbus("tables", "--counts", str(pooled / "counts.csv"), "--stats",
                    str(pooled / "stats.csv"), "--fold-summary", str(pooled / "fold_summary.csv"),
                    "--out", str(tables))  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tables / "table1.csv", dtype=str, keep_default_na=False).set_index("row")
    assert_table_shows_the_counts(tables / "table1.csv", pooled / "counts.csv", 0.2)
    assert table.loc["single", "0.1 FP/seq TP"] == "3"
    assert table.loc["single", "0.1 FP/seq Sensitivity (%)"] == "33.3"
    assert table.loc["single, fold mean ± SE", "0.1 FP/seq Sensitivity (%)"] == "32.5 ± 7.5"
    assert table.loc["multi, fold mean ± SE", "0.5 FP/seq Sensitivity (%)"] == "90.0 ± 10.0"
    assert "Pooled over 2 test folds" in (tables / "table1.md").read_text(encoding="utf-8")
    assert r"90.0 $\pm$ 10.0" in (tables / "table1.tex").read_text(encoding="utf-8")
    assert "per fold" in (tables / "extended.csv").read_text(encoding="utf-8")
    plot = tmp_path / "froc.png"
    folds = [str(pooled.parent / fold / "froc_bands.csv") for fold in ("1", "2")]
    result = dynbus("plots", "--counts", str(pooled / "counts.csv"), "--bands",
                    str(pooled / "froc_bands.csv"), "--stats", str(pooled / "stats.csv"),
                    "--fold-bands", *folds, "--iou", "0.2", "--out", str(plot))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_drawn(plot)


def test_pooling_one_fold_is_refused(tmp_path: Path):
    write_fold(tmp_path / "1", 1)
    result = dynbus("pool", "--folds", str(tmp_path / "1"), "--out", str(tmp_path / "o"))
    assert result.returncode != 0
    assert "pooling needs two folds" in result.stderr


def test_subgroups_pool_over_the_folds(pooled: Path, tmp_path: Path):
    """``dynbus subgroups`` on the pooled hits (what the workflow runs with k folds): every test
    lesion of every fold once, and each grouping's subgroups add up to the pooled counts."""
    frames, rows = tmp_path / "frames", ["sequence_id,frame,lesion_id,x1,y1,x2,y2"]
    for fold, patients in PATIENTS.items():
        for k in range(len(patients)):
            sequence = f"S{fold}{k}"
            (frames / sequence).mkdir(parents=True)
            meta = {"frame_time_ms": 40.0 if fold == 1 else 25.0, "manufacturer": f"Acme{fold}",
                    "spacing_mm": [{"box": [0, 0, 199, 199], "mm_per_px": [0.1, 0.1]}]}  # fmt: skip
            (frames / sequence / "meta.json").write_text(json.dumps(meta))
            rows.append(f"{sequence},0,L0,10,10,{20 + 50 * k},30")  # 1, 6, 11, 16, 21 mm
    (tmp_path / "annotations.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "subgroups"
    result = dynbus("subgroups", "--hits", str(pooled / "lesion_hits.csv"), "--annotations",
                    str(tmp_path / "annotations.csv"), "--frames", str(frames), "--out", str(out),
                    "--config", '{"subgroups": {"min_count": 1}}')  # fmt: skip
    assert result.returncode == 0, result.stderr
    lesions = pd.read_csv(out / "lesions.csv")
    assert sorted(lesions["sequence_id"]) == [f"S1{k}" for k in range(5)] + [
        f"S2{k}" for k in range(4)
    ]
    counts = pd.read_csv(pooled / "counts.csv").set_index(["iou", "fp_rate", "method"])
    table = pd.read_csv(out / "subgroups.csv")
    for (_, iou, rate), part in table.groupby(["grouping", "iou", "fp_rate"]):
        assert part["n_lesions"].sum() == 9
        for method in ("single", "multi"):
            assert part[f"{method}_tp"].sum() == counts.loc[(iou, rate, method), "tp"]
    scanner = table[(table["grouping"] == "scanner") & (table["fp_rate"] == 0.1)]
    assert scanner[["subgroup", "n_lesions", "single_tp", "multi_tp"]].values.tolist() == [
        ["Acme1", 5, 2, 3], ["Acme2", 4, 1, 3],
    ]  # fmt: skip
