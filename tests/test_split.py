"""Patient-disjoint split: sizes, disjointness, reproducibility, summary, CLI."""

import numpy as np
import pandas as pd
import pytest

from dynbus.dataset.split import make_splits, split_sizes, summarize
from dynbus.errors import DynbusError
from tests import in_process

PAPER = {"train": 0.8123, "val": 0.1008, "test": 0.0869}


def study(n_patients: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows, boxes = [], []
    for p in range(n_patients):
        for s in range(rng.integers(1, 5)):
            seq = f"S{p:04d}{s}"
            rows.append(
                {
                    "sequence_id": seq,
                    "patient_id": f"P{p:04d}",
                    "n_frames": 30,
                    "rows": 64,
                    "columns": 80,
                    "n_files": 1,
                }
            )
            for lesion in range(rng.integers(0, 3)):
                boxes.append(
                    {
                        "sequence_id": seq,
                        "frame": 0,
                        "lesion_id": f"L{lesion}",
                        "x1": 1,
                        "y1": 1,
                        "x2": 5,
                        "y2": 5,
                    }
                )
    return pd.DataFrame(rows), pd.DataFrame(boxes)


def test_paper_fractions_give_the_papers_patient_counts():
    assert split_sizes(506, PAPER) == {"train": 411, "val": 51, "test": 44}


def test_every_split_gets_a_patient_and_bad_fractions_are_refused():
    assert min(split_sizes(3, {"train": 0.98, "val": 0.01, "test": 0.01}).values()) == 1
    with pytest.raises(DynbusError, match="sum to"):
        split_sizes(10, {"train": 0.5, "val": 0.1, "test": 0.1})
    with pytest.raises(DynbusError, match="patients"):
        split_sizes(2, PAPER)


def test_split_is_patient_disjoint_reproducible_and_seed_dependent():
    manifest, annotations = study(120)
    first = make_splits(manifest, annotations, PAPER, seed=5)
    again = make_splits(manifest, annotations, PAPER, seed=5)
    other = make_splits(manifest, annotations, PAPER, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not first["split"].equals(other["split"])
    assert (first.groupby("patient_id")["split"].nunique() == 1).all()
    assert len(first) == len(manifest)
    counts = first.groupby("split")["patient_id"].nunique().to_dict()
    assert counts == split_sizes(120, PAPER)


def test_summary_counts_patients_sequences_masses_frames():
    manifest, annotations = study(30)
    splits = make_splits(manifest, annotations, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=1)
    summary = summarize(splits).set_index("split")
    assert summary.loc["total", "sequences"] == len(manifest)
    assert summary.loc["total", "masses"] == len(
        annotations.drop_duplicates(["sequence_id", "lesion_id"])
    )
    assert summary.loc["total", "frames"] == 30 * len(manifest)
    assert summary.loc[["train", "val", "test"], "patients"].sum() == 30


def test_cli_writes_splits_and_summary(tmp_path):
    manifest, annotations = study(20)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    annotations.to_csv(tmp_path / "annotations.csv", index=False)
    result = in_process.dynbus(
        "split",
        "--manifest",
        str(tmp_path / "manifest.csv"),
        "--annotations",
        str(tmp_path / "annotations.csv"),
        "--out",
        str(tmp_path / "s.csv"),
        "--summary",
        str(tmp_path / "sum.csv"),
        "--config",
        '{"split": {"seed": 3, "fractions": {"train": 0.5, "val": 0.2, "test": 0.3}}}',
    )
    assert result.returncode == 0, result.stderr
    splits = pd.read_csv(tmp_path / "s.csv")
    assert list(splits.columns) == ["sequence_id", "patient_id", "split", "n_frames", "n_lesions"]
    assert splits.groupby("split")["patient_id"].nunique().to_dict() == {
        "test": 6,
        "train": 10,
        "val": 4,
    }
    assert "total" in result.stdout


def test_cli_rejects_an_unknown_config_key(tmp_path):
    result = in_process.dynbus(
        "split",
        "--manifest",
        "m.csv",
        "--annotations",
        "a.csv",
        "--out",
        "o.csv",
        "--config",
        '{"split": {"sead": 3}}',
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "invalid configuration at split" in result.stderr
    assert "sead" in result.stderr
