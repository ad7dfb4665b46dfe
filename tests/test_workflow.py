"""The real Snakemake CLI over the whole DAG on a tiny synthetic study.

One run treats the study as the user's own data, one as the built-in demo, in other folders, with
the same seeds and key: both go raw DICOM -> tables, plots and figures, and their tables must be
byte-identical. (tests/test_data_safety.py scans both for patient names.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pydicom
import yaml

from dynbus.model.package import load_package
from tests.conftest import PLANTED_RAW_DIR, run_workflow
from tests.output_checks import assert_drawn, assert_table_shows_the_counts


def test_whole_dag_writes_tables_plots_and_figures(tiny_runs):
    first, _ = tiny_runs
    for name in ["table1.csv", "table1.md", "table1.tex", "table2.csv", "table2.md", "table2.tex"]:
        assert (first / "results" / "tables" / name).stat().st_size > 0
    counts = first / "results" / "eval" / "counts.csv"
    for table, iou in [("table1.csv", 0.2), ("table2.csv", 0.5)]:
        assert_table_shows_the_counts(first / "results" / "tables" / table, counts, iou)
    for iou in ("0.2", "0.5"):
        assert_drawn(first / "results" / "plots" / f"froc_iou{iou}.png")
        assert (first / "results" / "plots" / f"froc_iou{iou}.pdf").read_bytes()[:5] == b"%PDF-"
    assert_drawn(first / "results" / "figures" / "examples.png")
    assert_subgroups_add_up(first / "results")
    assert (first / "results" / "detections" / "val.csv").is_file()
    for name in ["video_metrics.md", "ablation.md", "extended.csv"]:
        assert (first / "results" / "tables" / name).stat().st_size > 0
    overlays = first / "results" / "overlays"
    index = pd.read_csv(overlays / "index.csv")
    splits = pd.read_csv(first / "results" / "splits.csv")
    assert set(index["sequence_id"]) == set(splits.loc[splits["split"] == "test", "sequence_id"])
    assert all((overlays / video).stat().st_size > 0 for video in index["video"])
    text = (overlays / "index.csv").read_text() + (overlays / "worst.html").read_text()
    assert not [name for name in PLANTED_RAW_DIR.replace("^", "_").split("_") if name in text]


def assert_subgroups_add_up(results: Path) -> None:
    """Every test lesion is in lesions.csv once, sized in mm (the simulator calibrates its
    regions), and each grouping's subgroups add up to the split's counts (docs/subgroups.md)."""
    lesions = pd.read_csv(results / "subgroups" / "lesions.csv")
    hits = pd.read_csv(results / "eval" / "lesion_hits.csv")
    assert len(lesions) == len(hits) / hits.groupby(["iou", "fp_rate"]).ngroups
    assert (lesions["size_unit"] == "mm").all() and (lesions["size"] > 0).all()
    assert set(lesions["scanner"]) == {"SonoSim Medical SonoSim L12"}
    counts = pd.read_csv(results / "eval" / "counts.csv").set_index(["iou", "fp_rate", "method"])
    rows = pd.read_csv(results / "subgroups" / "subgroups.csv")
    assert set(rows["grouping"]) == {"size", "scanner", "frame rate"}
    for (_, iou, rate), part in rows.groupby(["grouping", "iou", "fp_rate"]):
        assert part["n_lesions"].sum() == len(lesions)
        for method in ("single", "multi"):
            assert part[f"{method}_tp"].sum() == counts.loc[(iou, rate, method), "tp"]
    assert_drawn(results / "subgroups" / "forest.png")
    assert "multi-frame" in (results / "subgroups" / "subgroups.html").read_text()


def test_same_seed_gives_byte_identical_tables(tiny_runs):
    first, second = tiny_runs
    tables = sorted((first / "results" / "tables").iterdir())
    assert tables
    for table in tables:
        twin = second / "results" / "tables" / table.name
        assert table.read_bytes() == twin.read_bytes(), table.name


def test_deidentified_files_say_so(tiny_runs):
    first, _ = tiny_runs
    files = sorted((first / "results" / "deid").rglob("*.dcm"))
    manifest = pd.read_csv(first / "results" / "splits.csv")
    assert len(files) == len(manifest)
    for path in files:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        assert header.PatientIdentityRemoved == "YES", path.name


def test_rerun_has_nothing_to_do(tiny_study):
    runs = [(tiny_study.own_data, tiny_study.own_config), (tiny_study.demo, None)]
    for workdir, configfile in runs:
        result = run_workflow(workdir, "-n", configfile=configfile)
        assert result.returncode == 0
        assert "Nothing to be done" in result.stdout + result.stderr, workdir.name


def test_a_failing_stage_leaves_no_output(tiny_study, tmp_path):
    workdir = tmp_path / "broken"
    shutil.copytree(tiny_study.raw, workdir / "raw")
    config = yaml.safe_load(tiny_study.own_config.read_text())
    config.update(raw_dir="raw", annotations="raw/annotations.csv")
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    with (workdir / "raw" / "annotations.csv").open("a") as handle:
        handle.write("no/such/file.dcm,0,L9,1,1,5,5\n")
    result = run_workflow(workdir, "--until", "annotations")
    assert result.returncode != 0
    assert not (workdir / "results" / "annotations.csv").exists()
    log = (workdir / "linkage" / "logs" / "annotations.log").read_text()
    assert "line" in log
    assert "not a usable sequence" in log


def test_frozen_operating_points_and_model_package(tiny_runs, tmp_path):
    first, _ = tiny_runs
    results = first / "results"
    counts = pd.read_csv(results / "eval" / "counts.csv")
    points = pd.read_csv(results / "model" / "operating_points.csv")
    keys = ["iou", "fp_rate", "method"]
    both = counts.merge(points, on=keys, suffixes=("_paper", ""), validate="1:1")
    assert len(both) == len(counts) == len(points)
    # the same test lesions and sequences, whichever way the threshold was set
    assert ((both["tp"] + both["fn"]) == (both["tp_paper"] + both["fn_paper"])).all()
    assert (both["n_sequences"] == both["n_sequences_paper"]).all()
    assert (points["val_fp_per_sequence"] <= points["fp_rate"] + 1e-9).all()
    frozen = pd.read_csv(results / "tables" / "frozen.csv", dtype=str)
    for way, source in (("paper: re-set on test", counts), ("frozen: from val", points)):
        shown = frozen[frozen["thresholds"] == way][["TP", "FN", "FP"]].astype(int)
        assert sorted(shown.to_numpy().tolist()) == sorted(
            source[["tp", "fn", "fp"]].values.tolist()
        )
    package = load_package(results / "model" / "package", tmp_path)
    assert package.weights.read_bytes() == (results / "model" / "detector.pt").read_bytes()
    low = points[points["iou"] == points["iou"].min()]
    for row in low.itertuples():
        assert package.threshold(row.method, row.fp_rate) == row.threshold
    archive = results / "model" / "dynbus-model.zip"
    assert load_package(archive, tmp_path / "zip").operating_points == package.operating_points
    assert archive.read_bytes() != b"" and (package.root / "provenance/fingerprint.json").is_file()
    meta = json.loads((package.root / "configs" / "metadata.json").read_text())
    assert meta["network_data_format"]["inputs"]["image"]["num_channels"] == 1
    assert meta["intended_use"].startswith("research only")
    card = (package.root / "docs" / "README.md").read_text()
    assert "Not for clinical use" in card
    for sens, ci in frozen[["Sensitivity (%)", "Wilson 95% CI (%)"]].itertuples(index=False):
        assert sens in card and ci in card  # the run's numbers, both ways
    splits = pd.read_csv(results / "splits.csv", dtype=str)
    identifiers = [*splits["sequence_id"], *splits["patient_id"]]
    assert not [name for name in identifiers if name in card]
    assert "<table>" in (results / "model" / "model_card.html").read_text()
