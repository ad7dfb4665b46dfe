"""k-fold patient cross-validation: the fold assignment and its DAG (real Snakemake CLI)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dynbus.dataset.split import make_splits
from dynbus.errors import DynbusError
from tests.conftest import run_workflow, tiny_config
from tests.test_split import study

FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}


def all_folds(manifest, annotations, folds, seed=7, duplicates=None) -> list[pd.DataFrame]:
    return [
        make_splits(manifest, annotations, FRACTIONS, seed, duplicates, folds, fold)
        for fold in range(1, folds + 1)
    ]


def test_test_folds_cover_every_patient_once_and_each_fold_is_patient_disjoint():
    manifest, annotations = study(42)
    folds = all_folds(manifest, annotations, 4)
    tested = [set(fold.loc[fold["split"] == "test", "patient_id"]) for fold in folds]
    assert sorted(len(patients) for patients in tested) == [10, 10, 11, 11]
    assert set.union(*tested) == set(manifest["patient_id"])
    assert sum(len(patients) for patients in tested) == 42  # no patient tested twice
    for fold in folds:
        assert len(fold) == len(manifest)
        assert (fold.groupby("patient_id")["split"].nunique() == 1).all()
        patients = fold.groupby("split")["patient_id"].nunique()
        assert patients["val"] == round(0.1 * 42)
        assert patients["train"] == 42 - patients["test"] - patients["val"]


def test_folds_are_deterministic_seed_dependent_and_val_differs_by_fold():
    manifest, annotations = study(30)
    first, again = all_folds(manifest, annotations, 3), all_folds(manifest, annotations, 3)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    other = all_folds(manifest, annotations, 3, seed=8)
    assert not first[0]["split"].equals(other[0]["split"])
    val = [set(fold.loc[fold["split"] == "val", "patient_id"]) for fold in first]
    assert val[0] != val[1] != val[2]


def test_near_duplicate_patients_stay_together_in_every_fold():
    manifest, annotations = study(20)
    duplicates = pd.DataFrame({"patient_a": ["P0001", "P0005"], "patient_b": ["P0002", "P0006"]})
    for fold in all_folds(manifest, annotations, 4, duplicates=duplicates):
        split = fold.groupby("patient_id")["split"].first()
        assert split["P0001"] == split["P0002"] and split["P0005"] == split["P0006"]


def test_too_many_folds_and_a_fold_out_of_range_are_refused():
    manifest, annotations = study(5)
    with pytest.raises(DynbusError, match="folds = 6 leaves a fold without test patients"):
        make_splits(manifest, annotations, FRACTIONS, 7, None, 6, 1)
    with pytest.raises(DynbusError, match="fold 4 is not one of 1..3"):
        make_splits(manifest, annotations, FRACTIONS, 7, None, 3, 4)


def dry_run(tmp_path: Path, **split) -> subprocess.CompletedProcess[str]:
    config = tiny_config()
    config["split"].update(split)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return run_workflow(tmp_path, "-n")


def job_counts(console: str) -> dict[str, int]:
    table = console.split("Job stats:")[1].split("\n\n")[0]
    return {name: int(n) for name, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_three_folds_train_in_three_jobs_and_pool_into_the_tables(tmp_path: Path):
    result = dry_run(tmp_path, folds=3)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    jobs = job_counts(console)
    assert {name: jobs[name] for name in ("split", "train", "infer", "evaluate", "tables")} == {
        "split": 3, "train": 3, "infer": 6, "evaluate": 3, "tables": 3,
    }  # fmt: skip
    assert jobs["pool"] == jobs["pooled_tables"] == 1 and jobs["pooled_plots"] == 2
    assert jobs["overlays"] == 3 and "results/folds/3/overlays/index.csv" in console
    for fold in (1, 2, 3):
        assert f"--out results/folds/{fold}/model " in console  # its own resume folder
        assert f"--fold {fold} " in console
    assert "--folds results/folds/1/eval results/folds/2/eval results/folds/3/eval" in console
    assert "--fold-summary results/eval/fold_summary.csv --out results/tables " in console
    assert jobs["headline"] == 1  # the report opens on the pooled tables
    assert "--fold-summary results/eval/fold_summary.csv --froc results/plots/froc_iou0.2.png" in (
        console
    )
    # the subgroups run once, on the hits pool concatenated over the folds (docs/subgroups.md)
    assert jobs["subgroups"] == jobs["forest"] == 1
    assert "dynbus subgroups --hits results/eval/lesion_hits.csv " in console
    # each fold freezes its own thresholds on its val split and packages its own model
    assert jobs["operating_points"] == jobs["package"] == 3 and jobs["pooled_frozen_tables"] == 1
    assert "--out results/folds/2/model/package " in console


def test_one_fold_is_the_single_split_dag(tmp_path: Path):
    result = dry_run(tmp_path, folds=1)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert job_counts(console) == {
        "simulate": 1, "run_info": 1, "manifest": 1, "annotations": 1, "collect_prepared": 1,
        "duplicates": 1, "timings": 1, "split": 1, "train": 1, "environment": 1, "infer": 2,
        "evaluate": 1, "tables": 1, "plots": 2, "figures": 1, "video_metrics": 1, "ablation": 1,
        "overlays": 1, "subgroups": 1, "forest": 1, "headline": 1, "fingerprint": 1, "all": 1,
        "operating_points": 1, "frozen_tables": 1, "package": 1, "total": 28,
    }  # fmt: skip
    assert "folds/" not in console and "--fold" not in console
    assert "--out results/splits.csv --summary results/reports/split_summary.csv" in console


def test_more_folds_than_demo_patients_is_refused_at_start(tmp_path: Path):
    result = dry_run(tmp_path, folds=9)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "split.folds" in line]
    assert errors == [
        "dynbus: config error: split.folds = 9 leaves a fold without test patients: there are "
        "only 8 patients (near-duplicate groups count once)"
    ]
