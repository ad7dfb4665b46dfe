"""``dynbus evaluate | tables | plots | figures`` end to end on a tiny synthetic study."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests import in_process
from tests.output_checks import assert_drawn, assert_table_shows_the_counts

ROOT = Path(__file__).resolve().parents[1]
CONFIG = json.dumps({"evaluate": {"bootstrap": 200}})


def dynbus(*args: str) -> subprocess.CompletedProcess:
    return in_process.dynbus(*args, cwd=ROOT)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 patients x 2 sequences of 6 frames: lesion tracks, a rib and flickers; frames as PNG."""
    folder = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(0)
    dets, anns, rows = [], [], []
    for k in range(16):
        seq, n_lesions = f"S{k:02d}", k % 3 % 2 + (k == 5)
        for frame in range(6):
            for lesion in range(n_lesions):
                box = np.array([20 + 60 * lesion, 30, 60 + 60 * lesion, 70], float)
                anns.append((seq, frame, f"L{lesion}", *box))
                if rng.uniform() < 0.7:
                    dets.append((seq, frame, *(box + rng.normal(0, 3, 4)), rng.uniform(0.3, 1)))
            if rng.uniform() < 0.4:
                dets.append((seq, frame, 10, 100, 110, 115, rng.uniform(0, 0.7)))  # a rib
            x, y = rng.uniform(0, 100, 2)
            dets.append((seq, frame, x, y, x + 15, y + 15, rng.uniform(0, 0.5)))
            path = folder / "frames" / seq / f"{frame:06d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (128, 160), dtype=np.uint8)).save(path)
        rows.append((seq, f"P{k // 2}", "test" if k < 14 else "val", 6, n_lesions))
    pd.DataFrame(dets, columns=["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]).to_csv(
        folder / "detections.csv", index=False
    )
    pd.DataFrame(
        anns, columns=["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
    ).to_csv(folder / "annotations.csv", index=False)
    pd.DataFrame(
        rows, columns=["sequence_id", "patient_id", "split", "n_frames", "n_lesions"]
    ).to_csv(folder / "splits.csv", index=False)
    return folder


def evaluate(study: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return dynbus(
        "evaluate",
        "--detections",
        str(study / "detections.csv"),
        "--annotations",
        str(study / "annotations.csv"),
        "--manifest",
        str(study / "splits.csv"),
        "--split",
        "test",
        "--out",
        str(out),
        "--config",
        CONFIG,
        *extra,
    )


def test_evaluate_tables_plots_figures_reproducibly(study: Path, tmp_path: Path) -> None:
    for run in ("a", "b"):
        result = evaluate(study, tmp_path / run / "eval")
        assert result.returncode == 0, result.stderr
        result = dynbus(
            "tables",
            "--counts",
            str(tmp_path / run / "eval" / "counts.csv"),
            "--stats",
            str(tmp_path / run / "eval" / "stats.csv"),
            "--out",
            str(tmp_path / run / "tables"),
        )
        assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert {
        "eval/counts.csv",
        "eval/froc.csv",
        "eval/froc_bands.csv",
        "eval/lesion_hits.csv",
        "eval/stats.csv",
        "eval/settings.json",
        "tables/table1.tex",
        "tables/table2.md",
        "tables/extended.csv",
    } <= {str(f) for f in files}
    for name in files:  # same seed -> byte-identical outputs
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    counts_path = tmp_path / "a" / "eval" / "counts.csv"
    counts = pd.read_csv(counts_path)
    assert list(counts.columns) == [
        "iou",
        "fp_rate",
        "method",
        "tp",
        "fn",
        "fp",
        "sensitivity",
        "n_sequences",
        "threshold",
    ]
    assert len(counts) == 2 * 3 * 2 and (counts["n_sequences"] == 14).all()
    assert (counts["fp"] <= counts["fp_rate"] * 14).all()
    manifest = pd.read_csv(study / "splits.csv")
    lesions = manifest.loc[manifest["split"] == "test", "n_lesions"].sum()
    assert (counts["tp"] + counts["fn"] == lesions).all()
    hits = pd.read_csv(tmp_path / "a" / "eval" / "lesion_hits.csv")
    merged = hits.groupby(["iou", "fp_rate"])[["single", "multi"]].sum()
    for method in ("single", "multi"):
        tp = counts[counts["method"] == method].set_index(["iou", "fp_rate"])["tp"]
        assert (merged[method] == tp.reindex(merged.index)).all()
    for table, iou in [("table1.csv", 0.2), ("table2.csv", 0.5)]:
        assert_table_shows_the_counts(tmp_path / "a" / "tables" / table, counts_path, iou)
    stats = pd.read_csv(tmp_path / "a" / "eval" / "stats.csv")
    assert (stats["fusion_order"] == "threshold_then_group").all()
    assert stats["single_boot_low"].le(stats["single_sensitivity"]).all()

    evaluation = tmp_path / "a" / "eval"
    figures = [str(tmp_path / "plots" / name) for name in ("froc.png", "froc.pdf")]
    result = dynbus(
        "plots",
        "--counts",
        str(evaluation / "counts.csv"),
        "--bands",
        str(evaluation / "froc_bands.csv"),
        "--stats",
        str(evaluation / "stats.csv"),
        "--iou",
        "0.5",
        "--out",
        *figures,
    )
    assert result.returncode == 0, result.stderr
    assert_drawn(Path(figures[0]))
    assert Path(figures[1]).read_bytes().startswith(b"%PDF")
    result = dynbus(
        "figures",
        "--counts",
        str(evaluation / "counts.csv"),
        "--single-frames",
        str(evaluation / "single_frames.csv"),
        "--detections",
        str(study / "detections.csv"),
        "--annotations",
        str(study / "annotations.csv"),
        "--frames",
        str(study / "frames"),
        "--out",
        str(tmp_path / "examples.png"),
    )
    assert result.returncode == 0, result.stderr
    assert_drawn(tmp_path / "examples.png")


def test_group_then_threshold_is_reported(study: Path, tmp_path: Path) -> None:
    config = json.dumps(
        {"fusion": {"order": "group_then_threshold", "score": "sum"}, "evaluate": {"bootstrap": 0}}
    )
    result = dynbus(
        "evaluate",
        "--detections",
        str(study / "detections.csv"),
        "--annotations",
        str(study / "annotations.csv"),
        "--manifest",
        str(study / "splits.csv"),
        "--out",
        str(tmp_path / "eval"),
        "--config",
        config,
    )
    assert result.returncode == 0, result.stderr
    stats = pd.read_csv(tmp_path / "eval" / "stats.csv")
    assert (stats["fusion_order"] == "group_then_threshold").all()
    assert json.loads((tmp_path / "eval" / "settings.json").read_text())["n_sequences"] == 16


def test_detection_of_an_unknown_sequence_is_an_error(study: Path, tmp_path: Path) -> None:
    dets = pd.read_csv(study / "detections.csv")
    dets.loc[0, "sequence_id"] = "Sunknown"
    dets.to_csv(tmp_path / "detections.csv", index=False)
    result = dynbus(
        "evaluate",
        "--detections",
        str(tmp_path / "detections.csv"),
        "--annotations",
        str(study / "annotations.csv"),
        "--manifest",
        str(study / "splits.csv"),
        "--out",
        str(tmp_path / "eval"),
    )
    assert result.returncode == 2
    assert "detections.csv: sequence Sunknown is not in" in result.stderr
    assert not (tmp_path / "eval").exists()
