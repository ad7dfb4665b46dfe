"""Subgroups (docs/subgroups.md): lesion sizes in mm from the regions' calibration, the subgroup
statistics on hand-built counts, the ``dynbus subgroups`` command and the forest plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynbus.ingest.frames import region_spacing_mm
from dynbus.protocol import stats
from dynbus.protocol.subgroups import lesion_sizes, pool_small, subgroup_row, subgroup_tables
from tests.dicom_factory import make_us, pattern, regions_item
from tests.output_checks import assert_drawn

Z2 = 1.959963984540054**2
SETTINGS = {
    "size_bins_mm": [10, 20], "frame_rate_bins_fps": [20, 30], "min_count": 3, "columns": [],
}  # fmt: skip


def test_newcombe_interval_by_hand() -> None:
    # both 3, single only 1, multi only 4, neither 2 (n 10): p_single .4, p_multi .7; Wilson
    # (.16818, .68733) and (.39678, .89221), phi = (3*2 - 1*4) / sqrt(4*6*7*3) = .089087
    low, high = stats.paired_difference_ci(3, 1, 4, 2)
    assert (low, high) == pytest.approx((-0.0987188, 0.5876552), abs=1e-6)
    assert np.isnan(stats.paired_difference_ci(0, 0, 0, 0)).all()


def test_newcombe_interval_without_a_miss_is_the_wilson_half_width() -> None:
    # 5 of 5 by both: Wilson lower limit 5 / (5 + z²), the difference 0 ± (1 - that)
    half = 1 - 5 / (5 + Z2)
    assert stats.paired_difference_ci(5, 0, 0, 0) == pytest.approx((-half, half))
    assert half == pytest.approx(0.4344825, abs=1e-6)


def test_gain_heterogeneity_by_hand() -> None:
    # discordant (single only, multi only): A (1, 5), B (5, 1), C none: expected 3 per cell,
    # χ² = 4 x (2² / 3) = 16/3 on 1 df, P = .020921; C carries no information
    chi2, df, p = stats.gain_heterogeneity(np.array([1, 5, 0]), np.array([5, 1, 0]))
    assert (chi2, df) == (pytest.approx(16 / 3), 1)
    assert p == pytest.approx(0.0209213, abs=1e-6)
    for single_only, multi_only in [([0, 0], [3, 4]), ([2, 0], [1, 0]), ([], [])]:
        chi2, df, p = stats.gain_heterogeneity(np.array(single_only), np.array(multi_only))
        assert np.isnan(chi2) and df == 0 and np.isnan(p)


def test_empty_subgroup_row_has_no_estimate() -> None:
    row = subgroup_row(np.zeros(0, bool), np.zeros(0, bool))
    assert row["n_lesions"] == 0 and row["single_tp"] == 0 and row["multi_only"] == 0
    for key in ("single_sensitivity", "difference", "difference_low", "mcnemar_p"):
        assert np.isnan(row[key]), key


def test_subgroup_rows_on_hand_built_counts() -> None:
    # 12 lesions at one operating point; sizes 5, 15, 25 mm and one uncalibrated; scanners A (9)
    # and B (2) C (1) pooled into "other"; multi-frame finds 4 more lesions, misses 1 single hit
    lesions = pd.DataFrame(
        {
            "sequence_id": [f"s{i}" for i in range(12)],
            "lesion_id": ["1"] * 12,
            "size": [5, 6, 7, 8, 15, 16, 17, 18, 25, 26, 27, 40],
            "size_unit": ["mm"] * 11 + ["px"],
            "scanner": ["A"] * 9 + ["B", "B", "C"],
            "frame_rate_fps": [25.0] * 11 + [np.nan],
        }
    )
    hits = lesions[["sequence_id", "lesion_id"]].assign(
        iou=0.2,
        fp_rate=0.5,
        single=[0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0],
        multi=[1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0],
    )
    tables = subgroup_tables(hits, lesions, SETTINGS)
    rows = tables["subgroups"].set_index(["grouping", "subgroup"])
    small = rows.loc[("size", "<10 mm")]
    assert (small["n_lesions"], small["single_tp"], small["multi_tp"]) == (4, 1, 3)
    assert (small["single_only"], small["multi_only"]) == (1, 3)
    assert small["mcnemar_p"] == pytest.approx(10 / 16)  # 1 vs 3 discordant: 2 x (1 + 4) / 16
    middle = rows.loc[("size", "10–20 mm")]
    assert (middle["n_lesions"], middle["single_tp"], middle["multi_tp"]) == (4, 3, 4)
    large = rows.loc[("size", "≥20 mm")]  # no miss
    assert (large["n_lesions"], large["single_tp"], large["multi_tp"]) == (3, 3, 3)
    half = 1 - 3 / (3 + Z2)
    assert (large["difference_low"], large["difference_high"]) == pytest.approx((-half, half))
    assert large["single_wilson_high"] == 1.0 and large["mcnemar_p"] == 1.0
    assert rows.loc[("size", "uncalibrated (px)"), "n_lesions"] == 1
    empty = rows.loc[("frame rate", "<20 fps")]  # an empty band is listed, without estimates
    assert empty["n_lesions"] == 0 and np.isnan(empty["single_sensitivity"])
    assert rows.loc[("frame rate", "unknown"), "n_lesions"] == 1
    other = rows.loc[("scanner", "other")]
    assert other["n_lesions"] == 3 and other["pooled"] == "B (2); C (1)"
    assert list(rows.loc["scanner"].index) == ["A", "other"]
    assert rows.loc[("scanner", "A"), "pooled"] == ""
    tests = tables["heterogeneity"].set_index("grouping")
    # size: discordant (1, 3), (0, 1), (0, 0), (0, 0): two informative subgroups, 2 x 2 table
    # [[1, 3], [0, 1]]: expected [[.8, 3.2], [.2, .8]], every (O - E)² = .04, χ² = .04 / .8
    # + .04 / 3.2 + .04 / .2 + .04 / .8 = .05 + .0125 + .2 + .05 = .3125
    assert tests.loc["size", "n_subgroups"] == 4 and tests.loc["size", "n_informative"] == 2
    assert tests.loc["size", "chi2"] == pytest.approx(0.3125)
    assert tests.loc["size", "df"] == 1


def test_pooling_names_what_it_pooled() -> None:
    labels = pd.Series(["X", "X", "Y", "Z", "X"])
    pooled, note = pool_small(labels, 2)
    assert pooled.tolist() == ["X", "X", "other", "other", "X"] and note == "Y (1); Z (1)"
    assert pool_small(labels, 1) == (labels, "")


def test_lesion_size_in_mm_through_the_region_holding_the_box() -> None:
    meta = {"spacing_mm": [{"box": [10, 10, 109, 99], "mm_per_px": [0.2, 0.25]}]}
    boxes = pd.DataFrame(
        {
            "lesion_id": ["1", "1", "2", "3"],
            "x1": [20, 20, 30, 150], "y1": [20, 20, 30, 10],
            "x2": [60, 50, 40, 170], "y2": [40, 80, 90, 40],
        }
    )  # fmt: skip
    sizes = lesion_sizes(boxes, meta).set_index("lesion_id")
    # lesion 1: frame 1 is 40 x 20 px = 8 x 5 mm, frame 2 30 x 60 px = 6 x 15 mm: 15 mm
    assert sizes.loc["1"].tolist() == [pytest.approx(15.0), "mm"]
    assert sizes.loc["2"].tolist() == [pytest.approx(15.0), "mm"]  # 10 x 60 px: 2 x 15 mm
    assert sizes.loc["3"].tolist() == [30.0, "px"]  # outside the calibrated region
    assert lesion_sizes(boxes, {}).set_index("lesion_id")["size_unit"].eq("px").all()


def test_only_regions_calibrated_in_cm_give_a_spacing() -> None:
    ds = make_us(pattern(1, 32, 40, 1, 255, seed=1), regions=None)
    tissue, doppler = regions_item((0, 0, 39, 15)), regions_item((0, 16, 39, 31))
    tissue.PhysicalUnitsXDirection = tissue.PhysicalUnitsYDirection = 3
    tissue.PhysicalDeltaX, tissue.PhysicalDeltaY = 0.01, 0.02
    doppler.PhysicalUnitsXDirection, doppler.PhysicalUnitsYDirection = 4, 7  # s, cm/s
    doppler.PhysicalDeltaX = doppler.PhysicalDeltaY = 0.01
    ds.SequenceOfUltrasoundRegions = [tissue, doppler]
    assert region_spacing_mm(ds) == [
        {"box": [0, 0, 39, 15], "mm_per_px": [pytest.approx(0.1), pytest.approx(0.2)]}
    ]
    del ds.SequenceOfUltrasoundRegions
    assert region_spacing_mm(ds) == []


def write_inputs(root: Path) -> dict[str, Path]:
    """A tiny evaluation: two sequences (one calibrated, one not), three lesions, one point."""
    frames = root / "frames"
    metas = {
        "S1": {"frame_time_ms": 40.0, "manufacturer": "Acme", "model": "U1",
               "spacing_mm": [{"box": [0, 0, 99, 99], "mm_per_px": [0.1, 0.1]}]},
        "S2": {"frame_time_ms": 25.0},
    }  # fmt: skip
    for seq, meta in metas.items():
        (frames / seq).mkdir(parents=True)
        (frames / seq / "meta.json").write_text(json.dumps(meta))
    annotations = root / "annotations.csv"
    annotations.write_text(
        "sequence_id,frame,lesion_id,x1,y1,x2,y2\n"
        "S1,0,1,10,10,60,30\nS1,1,2,10,40,30,60\nS2,0,1,5,5,25,20\n"
    )
    hits = root / "lesion_hits.csv"
    hits.write_text(
        "iou,fp_rate,sequence_id,patient_id,lesion_id,single,multi\n"
        "0.2,0.5,S1,P1,1,1,1\n0.2,0.5,S1,P1,2,0,1\n0.2,0.5,S2,P2,1,0,0\n"
    )
    return {"frames": frames, "annotations": annotations, "hits": hits}


def run_dynbus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynbus", *args], capture_output=True, text=True, check=False
    )


def test_subgroups_command_writes_the_tables_and_the_forest_plot(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path)
    out = tmp_path / "subgroups"
    config = json.dumps({"subgroups": {"min_count": 1}})
    run = run_dynbus(
        "subgroups", "--hits", str(inputs["hits"]), "--annotations", str(inputs["annotations"]),
        "--frames", str(inputs["frames"]), "--out", str(out), "--config", config,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lesions = pd.read_csv(out / "lesions.csv", dtype={"lesion_id": str})
    assert lesions[["size", "size_unit", "scanner"]].values.tolist() == [
        [5.0, "mm", "Acme U1"],  # 50 x 20 px at 0.1 mm
        [2.0, "mm", "Acme U1"],
        [20.0, "px", "unknown"],
    ]
    assert lesions["scanner_group"].tolist() == lesions["scanner"].tolist()  # min_count 1
    assert lesions["frame_rate_band"].tolist() == ["20–30 fps", "20–30 fps", "≥30 fps"]
    rows = pd.read_csv(out / "subgroups.csv").set_index(["grouping", "subgroup"])
    assert rows.loc[("size", "<10 mm"), ["n_lesions", "single_tp", "multi_tp"]].tolist() == [
        2, 1, 2,
    ]  # fmt: skip
    assert (out / "heterogeneity.csv").is_file()
    figure = tmp_path / "forest.png"
    page = tmp_path / "subgroups.html"
    run = run_dynbus(
        "forest", "--subgroups", str(out / "subgroups.csv"),
        "--heterogeneity", str(out / "heterogeneity.csv"), "--iou", "0.2", "--fp-rate", "0.5",
        "--out", str(figure), "--table", str(page),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert_drawn(figure)
    assert "Acme U1" in page.read_text() and "uncalibrated (px)" in page.read_text()


def test_user_columns_are_extra_groupings(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path)
    inputs["annotations"].write_text(
        "sequence_id,frame,lesion_id,x1,y1,x2,y2,birads,pathology\n"
        "S1,0,1,10,10,60,30,4a,malignant\nS1,1,1,10,10,62,30,4a,malignant\n"
        "S1,1,2,10,40,30,60,3,\nS2,0,1,5,5,25,20,4a,benign\n"
    )
    out = tmp_path / "subgroups"
    config = json.dumps({"subgroups": {"columns": ["birads", "pathology"]}})
    run = run_dynbus(
        "subgroups", "--hits", str(inputs["hits"]), "--annotations", str(inputs["annotations"]),
        "--frames", str(inputs["frames"]), "--out", str(out), "--config", config,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lesions = pd.read_csv(out / "lesions.csv", dtype=str, keep_default_na=False)
    assert lesions[["birads", "pathology"]].values.tolist() == [
        ["4a", "malignant"], ["3", "unknown"], ["4a", "benign"],
    ]  # fmt: skip
    rows = pd.read_csv(out / "subgroups.csv", dtype={"subgroup": str})
    counts = rows.set_index(["grouping", "subgroup"])[["n_lesions", "single_tp", "multi_tp"]]
    # hits (single, multi): S1/1 (1, 1), S1/2 (0, 1), S2/1 (0, 0)
    assert counts.loc["birads"].to_dict("index") == {
        "3": {"n_lesions": 1, "single_tp": 0, "multi_tp": 1},
        "4a": {"n_lesions": 2, "single_tp": 1, "multi_tp": 1},
    }
    assert list(counts.loc["pathology"].index) == ["benign", "malignant", "unknown"]
    tests = pd.read_csv(out / "heterogeneity.csv").set_index("grouping")
    assert tests.loc["birads", "n_informative"] == 1  # only "3" has a discordant lesion
    taken = run_dynbus(
        "subgroups", "--hits", str(inputs["hits"]), "--annotations", str(inputs["annotations"]),
        "--frames", str(inputs["frames"]), "--out", str(tmp_path / "taken"),
        "--config", json.dumps({"subgroups": {"columns": ["scanner"]}}),
    )  # fmt: skip
    assert taken.returncode == 2 and "subgroups/columns: scanner is a column" in taken.stderr


def test_missing_meta_json_is_one_line_naming_it(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path)
    (inputs["frames"] / "S2" / "meta.json").unlink()
    run = run_dynbus(
        "subgroups", "--hits", str(inputs["hits"]), "--annotations", str(inputs["annotations"]),
        "--frames", str(inputs["frames"]), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "S2/meta.json" in run.stderr
    assert not (tmp_path / "out").exists()
