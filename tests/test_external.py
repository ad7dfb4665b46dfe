"""External validation through the real Snakemake CLI (docs/external.md).

The tiny demo study's model package (tests/conftest.py) is validated on a second synthetic site,
treated as another hospital's own data: another seed and image size, patient names planted in
its raw folder's and files' names. No training runs; the tables both ways count exactly the
site's lesions, the frozen thresholds are the package's, and no planted value reaches the
outputs or logs.
"""

from __future__ import annotations

import io
import shutil
import zipfile

import pandas as pd
import pytest
import yaml

from tests.conftest import plant_names_in_file_names, run_workflow, simulate_study, tiny_config
from tests.phi import phi_found_under, planted_phi

SITE = {"seed": 31, "patients": 4, "frames": [6, 8], "rows": 144, "columns": 176}
SITE_DIR = "HOSPITAL_B_MUELLERSCHOEN^KLARA_19610203"
THRESHOLD_KEYS = ["iou", "fp_rate", "method"]


@pytest.fixture(scope="module")
def external_run(tiny_runs, tmp_path_factory):
    """A work folder holding only the demo's package archive, validated on the second site."""
    _, demo = tiny_runs
    workdir = tmp_path_factory.mktemp("external")
    shutil.copyfile(demo / "results/model/dynbus-model.zip", workdir / "model.zip")
    site = tmp_path_factory.mktemp("site") / SITE_DIR
    simulate_study(site, SITE)
    plant_names_in_file_names(site)
    config = tiny_config()
    config["external"] = {
        "enabled": True,
        "package": "model.zip",
        "raw_dir": str(site),
        "annotations": str(site / "annotations.csv"),
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_workflow(workdir, "external")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, site, result.stdout + result.stderr


def _lesions(workdir) -> int:
    boxes = pd.read_csv(workdir / "results/external/annotations.csv", dtype={"lesion_id": str})
    return len(boxes[["sequence_id", "lesion_id"]].drop_duplicates())


def test_tables_both_ways_count_the_sites_lesions(external_run):
    workdir, _, _ = external_run
    out = workdir / "results/external"
    assert not (workdir / "results/model").exists()  # nothing trained
    lesions = _lesions(workdir)
    assert lesions > 0
    splits = pd.read_csv(out / "splits.csv")
    assert set(splits["split"]) == {"test"} and splits["n_lesions"].sum() == lesions
    for table in ["table1.csv", "table2.csv", "frozen.csv"]:
        assert (out / "tables" / table).stat().st_size > 0
    counts = pd.read_csv(out / "eval/counts.csv")
    frozen = pd.read_csv(out / "tables/frozen.csv")
    points = pd.read_csv(out / "operating_points.csv")
    for name, table in [("counts", counts), ("points", points)]:
        assert ((table["tp"] + table["fn"]) == lesions).all(), name
    assert ((frozen["TP"] + frozen["FN"]) == lesions).all()  # the page's display columns
    assert (points["n_sequences"] == len(splits)).all()
    assert len(frozen) == 2 * len(points)  # each operating point both ways
    for iou in ("0.2", "0.5"):
        assert (out / f"plots/froc_iou{iou}.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "tables/video_metrics.md").stat().st_size > 0


def test_frozen_thresholds_are_the_packages(external_run):
    workdir, _, _ = external_run
    with zipfile.ZipFile(workdir / "model.zip") as package:
        frozen = pd.read_csv(io.BytesIO(package.read("configs/operating_points.csv")))
        development = pd.read_csv(io.BytesIO(package.read("docs/froc.csv")))
    applied = pd.read_csv(workdir / "results/external/operating_points.csv")
    both = frozen.merge(applied, on=THRESHOLD_KEYS, suffixes=("_package", "_applied"))
    assert len(both) == len(frozen) == len(applied)
    assert both["threshold_package"].equals(both["threshold_applied"])
    assert both["val_tp_package"].equals(both["val_tp_applied"])
    shown = pd.read_csv(workdir / "results/external/model/development_froc.csv")
    assert len(shown) == len(development) > 0


def test_no_patient_data_in_outputs(external_run):
    workdir, site, console = external_run
    needles = planted_phi(site, SITE["seed"], SITE["patients"])
    # the user's config names the site's folder; the private linkage holds its links
    assert phi_found_under(workdir, needles, skip=["linkage", "config.yaml"]) == []
    assert SITE_DIR.split("^")[0] not in console
    assert (workdir / "linkage/external/key.hex").is_file()
    assert not list((workdir / "results").rglob("key.hex"))
