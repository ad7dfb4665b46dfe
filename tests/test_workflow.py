"""The real Snakemake CLI over the whole DAG on a tiny synthetic study.

One run goes raw simulated DICOM -> tables, plots and figures; a second run in another folder with
the same seeds must give byte-identical tables. Both are scanned for the fake PHI that the
simulator planted (header values and raw file names): none may appear under results/ or logs/,
in file contents or in file names.
"""

from __future__ import annotations

import shutil

import pydicom

from tests.conftest import run_workflow
from tests.phi import phi_found_under, phi_values_of_raw_study


def test_whole_dag_writes_tables_plots_and_figures(tiny_runs):
    first, _ = tiny_runs
    for name in ["table1.csv", "table1.md", "table1.tex", "table2.csv", "table2.md", "table2.tex"]:
        assert (first / "results" / "tables" / name).stat().st_size > 0
    for iou in ("0.2", "0.5"):
        assert (first / "results" / "plots" / f"froc_iou{iou}.png").stat().st_size > 0
    assert (first / "results" / "figures" / "examples.png").stat().st_size > 0
    assert (first / "results" / "detections" / "val.csv").is_file()
    for name in ["video_metrics.md", "ablation.md", "extended.csv"]:
        assert (first / "results" / "tables" / name).stat().st_size > 0


def test_same_seed_gives_byte_identical_tables(tiny_runs):
    first, second = tiny_runs
    tables = sorted((first / "results" / "tables").iterdir())
    assert tables
    for table in tables:
        twin = second / "results" / "tables" / table.name
        assert table.read_bytes() == twin.read_bytes(), table.name


def test_no_phi_under_results_or_logs(tiny_runs):
    first, _ = tiny_runs
    values = phi_values_of_raw_study(first / "raw")
    assert len(values) > 20
    assert phi_found_under(first, ["raw"], values), "the scan must find the PHI of the raw study"
    assert phi_found_under(first, ["results", "logs", "benchmarks"], values) == []


def test_deidentified_files_say_so(tiny_runs):
    first, _ = tiny_runs
    files = sorted((first / "results" / "deid").rglob("*.dcm"))
    assert files
    header = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert header.PatientIdentityRemoved == "YES"


def test_rerun_has_nothing_to_do(tiny_runs):
    first, _ = tiny_runs
    result = run_workflow(first, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_failing_stage_leaves_no_output(tiny_runs, tmp_path):
    first, _ = tiny_runs
    workdir = tmp_path / "broken"
    shutil.copytree(first / "raw", workdir / "raw")
    (workdir / "config.yaml").write_bytes((first / "config.yaml").read_bytes())
    with (workdir / "raw" / "annotations.csv").open("a") as handle:
        handle.write("no/such/file.dcm,0,L9,1,1,5,5\n")
    result = run_workflow(workdir, "--until", "annotations")
    assert result.returncode != 0
    assert not (workdir / "results" / "annotations.csv").exists()
    log = (workdir / "linkage" / "logs" / "annotations.log").read_text()
    assert "line" in log
    assert "not a usable sequence" in log
