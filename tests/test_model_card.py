"""``dynbus package`` on hand-built study results: the package loads, the card shows the run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dynbus.config import validate
from dynbus.model.card import failure_modes, lesion_sizes
from dynbus.model.operating_points import operating_points
from dynbus.model.package import load_package
from tests.test_operating_points import held_out, val_sequences

CONFIG = {"evaluate": {"hit_iou": [0.2], "fp_rates": [0.5, 1.0]}}
HITS = pd.DataFrame(  # at IoU 0.2, 1 FP/seq (the middle rate): single misses T2 and T3
    [[0.2, 1.0, "T1", "P1", "L0", 1, 1], [0.2, 1.0, "T2", "P2", "L0", 0, 1],
     [0.2, 1.0, "T3", "P3", "L0", 0, 0]],
    columns=["iou", "fp_rate", "sequence_id", "patient_id", "lesion_id", "single", "multi"],
)  # fmt: skip
BOXES = pd.DataFrame(  # sizes sqrt(w h): T1 40, T2 20 (median of 20 and 20), T3 100
    [["T1", 0, "L0", 10, 10, 50, 50], ["T2", 0, "L0", 10, 10, 30, 30],
     ["T2", 1, "L0", 10, 10, 30, 30], ["T3", 0, "L0", 0, 0, 100, 100]],
    columns=["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"],
)  # fmt: skip


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    points = operating_points(val_sequences(), held_out(), validate(CONFIG))
    files = {name: tmp_path / f"{name}.csv" for name in ("points", "counts", "summary", "hits")}
    points.to_csv(files["points"], index=False)
    counts = points[["iou", "fp_rate", "method", "tp", "fn", "fp", "n_sequences", "threshold"]]
    counts.assign(tp=3, fn=0).to_csv(files["counts"], index=False)  # as if re-set on test
    pd.DataFrame(
        [["train", 5, 9, 9, 80], ["val", 2, 2, 2, 12], ["test", 3, 3, 3, 18]],
        columns=["split", "patients", "sequences", "masses", "frames"],
    ).to_csv(files["summary"], index=False)
    HITS.to_csv(files["hits"], index=False)
    files["annotations"] = tmp_path / "annotations.csv"
    BOXES.to_csv(files["annotations"], index=False)
    files["model"] = tmp_path / "detector.pt"
    files["model"].write_bytes(b"weights")
    return files


def package(inputs: dict[str, Path], out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dynbus", "package", "--model", str(inputs["model"]), "--points", str(inputs["points"]),
         "--counts", str(inputs["counts"]), "--split-summary", str(inputs["summary"]),
         "--hits", str(inputs["hits"]), "--annotations", str(inputs["annotations"]),
         "--out", str(out / "package"), "--archive", str(out / "model.zip"),
         "--card-html", str(out / "card.html"), "--config", json.dumps(CONFIG)],
        capture_output=True, text=True,
    )  # fmt: skip


def test_failure_modes_count_missed_lesions_and_their_sizes() -> None:
    table = failure_modes(HITS, lesion_sizes(BOXES), 0.2, 1.0).set_index("method")
    assert table.loc["single"].tolist() == [3, 2, "60", "20-100", "40"]
    assert table.loc["multi"].tolist() == [3, 1, "100", "100-100", "30"]


def test_package_holds_the_frozen_thresholds_and_the_card(inputs, tmp_path: Path) -> None:
    result = package(inputs, tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = load_package(tmp_path / "model.zip", tmp_path / "work")
    assert loaded.threshold("single", 0.5) == 0.9 and loaded.threshold("multi", 1.0) == 0.6
    assert loaded.weights.read_bytes() == b"weights"
    assert loaded.meta["threshold_iou"] == 0.2
    card = (loaded.root / "docs" / "README.md").read_text()
    for text in ("Not for clinical use", "| train ", "66.7", "20.8-93.9", "100.0", "CLAIM 2024"):
        assert text in card, text
    assert not [name for name in ("T1", "T2", "T3", "P1", "P2", "P3") if name in card]
    metadata = json.loads((loaded.root / "configs" / "metadata.json").read_text())
    assert {"version", "changelog", "pytorch_version", "numpy_version", "task",
            "intended_use", "network_data_format"} <= set(metadata)  # fmt: skip
    assert "<table>" in (tmp_path / "card.html").read_text()


def test_missing_weights_is_one_line_and_writes_nothing(inputs, tmp_path: Path) -> None:
    inputs["model"].unlink()
    result = package(inputs, tmp_path)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "detector.pt" in result.stderr
    assert not (tmp_path / "package").exists() and not (tmp_path / "model.zip").exists()
