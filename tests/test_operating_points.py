"""Operating points frozen on val and applied to test, on hand-built detections."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynbus.config import validate
from dynbus.model.operating_points import operating_points
from dynbus.reporting.frozen import FROZEN, PAPER, both_ways, read_points
from tests.test_evaluation import LESION, make_sequence

FAR = LESION + 100  # a box that overlaps no lesion
CONFIG = validate({"evaluate": {"hit_iou": [0.2], "fp_rates": [0.5, 1.0]}})


def val_sequences() -> list:
    """Two sequences, one lesion each, frame 0 drawn. Box scores in descending order:
    0.95 FP, 0.9 TP, 0.8 FP, 0.6 TP. At <= 1 FP (0.5/seq) the best is 0.9 (1 TP, 1 FP); at
    <= 2 FPs (1.0/seq) it is 0.6 (2 TP, 2 FP)."""
    return [
        make_sequence([LESION, FAR], [0, 0], [0.9, 0.8], [0], sid="V1"),
        make_sequence([FAR, LESION], [0, 0], [0.95, 0.6], [0], sid="V2"),
    ]


def held_out() -> list:
    """T1: a hit (0.92) and an FP (0.91) in the drawn frame. T2: the lesion (frames 0-1) is
    found at 0.5 in the drawn frame and at 0.95 in frame 1, which only multi-frame sees.
    T3: one FP at 0.99."""
    return [
        make_sequence([LESION, FAR], [0, 0], [0.92, 0.91], [0], sid="T1"),
        make_sequence([LESION, LESION], [0, 1], [0.5, 0.95], [0, 1], sid="T2"),
        make_sequence([FAR], [0], [0.99], [0], sid="T3"),
    ]


def test_thresholds_come_from_val_and_counts_from_test() -> None:
    table = operating_points(val_sequences(), held_out(), CONFIG).set_index(["fp_rate", "method"])
    # the val choice: the same for both methods (val has one frame per sequence)
    for method in ("single", "multi"):
        assert table.loc[(0.5, method), ["threshold", "val_tp", "val_fn", "val_fp"]].tolist() == [
            0.9, 1, 1, 1,
        ]  # fmt: skip
        assert table.loc[(1.0, method), ["threshold", "val_tp", "val_fn", "val_fp"]].tolist() == [
            0.6, 2, 0, 2,
        ]  # fmt: skip
    # single at 0.9 and at 0.6 on test: T1 hit + FP, T2 missed (0.5 is below), T3 FP
    for rate in (0.5, 1.0):
        assert table.loc[(rate, "single"), ["tp", "fn", "fp"]].tolist() == [1, 2, 2]
        # multi: T2's frame-1 box (0.95) hits its lesion
        assert table.loc[(rate, "multi"), ["tp", "fn", "fp"]].tolist() == [2, 1, 2]
    single = table.loc[(0.5, "single")]
    assert single["n_sequences"] == 3
    assert single["fp_per_sequence"] == pytest.approx(2 / 3)  # above the 0.5 target
    assert single["val_fp_per_sequence"] == pytest.approx(0.5)
    # Wilson 95 % of 1/3, by hand: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    assert single[["wilson_low", "wilson_high"]].tolist() == pytest.approx(
        [0.0615, 0.7923], abs=1e-4
    )
    multi = table.loc[(0.5, "multi")]
    assert multi[["wilson_low", "wilson_high"]].tolist() == pytest.approx(
        [0.2077, 0.9385], abs=1e-4
    )


def test_frozen_table_shows_both_ways(tmp_path: Path) -> None:
    points = operating_points(val_sequences(), held_out(), CONFIG)
    counts = pd.DataFrame(  # what dynbus evaluate would re-set on test (made up, fixed)
        [[0.2, r, m, 3, 0, 1, 3, 1.0, 0.93] for r in (0.5, 1.0) for m in ("single", "multi")],
        columns=["iou", "fp_rate", "method", "tp", "fn", "fp", "n_sequences", "sensitivity",
                 "threshold"],
    )  # fmt: skip
    table = both_ways(counts, points)
    assert len(table) == 8
    row = table[(table["FP/seq"] == "0.5") & (table["method"] == "multi")]
    assert row["thresholds"].tolist() == [PAPER, FROZEN]
    assert row["threshold"].tolist() == ["0.9300", "0.9000"]
    assert row[["TP", "FN", "FP"]].to_numpy().tolist() == [[3, 0, 1], [2, 1, 2]]
    assert row["Sensitivity (%)"].tolist() == ["100.0", "66.7"]
    assert row["FP/seq reached"].tolist() == ["0.333", "0.667"]
    assert row["Wilson 95% CI (%)"].tolist()[1] == "20.8-93.9"


def test_folds_are_pooled_by_summing_counts(tmp_path: Path) -> None:
    points = operating_points(val_sequences(), held_out(), CONFIG)
    paths = []
    for fold in (1, 2):
        paths.append(tmp_path / f"{fold}.csv")
        points.to_csv(paths[-1], index=False)
    pooled = read_points(paths).set_index(["fp_rate", "method"])
    assert pooled.loc[(0.5, "multi"), ["tp", "fn", "fp", "n_sequences"]].tolist() == [4, 2, 4, 6]
    assert np.isnan(pooled["threshold"]).all()


def test_a_val_split_without_lesions_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "splits.csv").write_text(
        "sequence_id,patient_id,split,n_frames,n_lesions\nSa,Pa,val,4,0\nSb,Pb,test,4,1\n"
    )
    (tmp_path / "annotations.csv").write_text(
        "sequence_id,frame,lesion_id,x1,y1,x2,y2\nSb,0,L1,10,10,50,50\n"
    )
    (tmp_path / "det.csv").write_text("sequence_id,frame,x1,y1,x2,y2,score\nSa,0,1,1,9,9,0.5\n")
    result = subprocess.run(
        ["dynbus", "operating-points", "--val", str(tmp_path / "det.csv"),
         "--test", str(tmp_path / "det.csv"), "--annotations", str(tmp_path / "annotations.csv"),
         "--manifest", str(tmp_path / "splits.csv"), "--out", str(tmp_path / "op.csv")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "annotations.csv" in result.stderr and "val" in result.stderr
    assert not (tmp_path / "op.csv").exists()
