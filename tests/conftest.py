"""Shared fixtures, made once per test session: simulated studies and two complete workflow runs.

``tiny_raw`` and ``small_raw`` are ``dynbus simulate`` studies, ``dicom_path_study`` one run
through the DICOM path's stages; ``tiny_study`` / ``tiny_runs`` are two complete runs of the
workflow on the tiny study. The first run treats the study as the user's own data
(``simulate.enabled: false``) with patient names planted in the raw folder's name, its folder
names and its file names; the second is the built-in demo (``simulate.enabled: true``, folder
``demo/``). Both use the demo's key, so their tables must agree byte for byte.

Who may modify a session fixture's files: nobody. A test that changes, adds or deletes files
copies the folder into its own ``tmp_path`` first (``copy_tree``), so every test sees what the
fixture made; the tiny runs only take dry runs, ``--report`` and outputs moved aside and put
back (see ``tiny_study``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "simulate": {"patients": 8, "frames": [6, 8], "rows": 128, "columns": 160},
    "split": {"seed": 7, "fractions": {"train": 0.5, "val": 0.25, "test": 0.25}},
    "model": {"arch": "resnet18_fpn_slim", "min_size": 128, "max_size": 160},
    "train": {"epochs": 1, "batch_size": 2, "warmup_iters": 2},
    "infer": {"batch_size": 4},
    "evaluate": {"bootstrap": 20},
}
PLANTED_RAW_DIR = "WINTERBOTTOM^AGATHA_19570312"  # a patient's name as the raw folder's name
SMALL_SIMULATE = {"patients": 2, "frames": [4, 5], "rows": 128, "columns": 128}


def tiny_config() -> dict:
    """The repository's config.yaml (the demo) with the TINY sizes."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section, values in TINY.items():
        config[section].update(values)
    return config


def run_workflow(
    workdir: Path, *extra: str, configfile: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the repository's Snakefile in ``workdir`` (default config: ``workdir/config.yaml``)."""
    return subprocess.run(
        [
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
            "--cores",
            "2",
            f"--configfile={configfile or workdir / 'config.yaml'}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


def simulate_study(raw: Path, simulate: dict, key: Path | None = None) -> None:
    """``dynbus simulate`` into ``raw`` (and the demo's key into ``key``)."""
    key_option = [] if key is None else ["--linkage-key", str(key)]
    subprocess.run(
        ["dynbus", "simulate", "--out", str(raw), *key_option,
         "--config", json.dumps({"simulate": simulate})],
        check=True, capture_output=True,
    )  # fmt: skip


def copy_tree(source: Path, target: Path) -> Path:
    """A copy of the folder ``source`` at ``target`` (links kept as links, times kept)."""
    shutil.copytree(source, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory) -> Path:
    """The TINY study: ``raw/`` (the simulator's DICOM files and annotations.csv) and
    ``linkage/key.hex`` (the demo's key). Read-only for every test: copy it to change it."""
    root = tmp_path_factory.mktemp("tiny_raw")
    simulate_study(root / "raw", tiny_config()["simulate"], key=root / "linkage" / "key.hex")
    return root


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory) -> Path:
    """A raw folder ``mydata`` (the name the tests give the user's raw folder) of SMALL_SIMULATE
    (2 patients, 4-5 frames of 128 x 128), no key. Read-only for every test: copy it to change
    it."""
    raw = tmp_path_factory.mktemp("small_raw") / "mydata"
    simulate_study(raw, SMALL_SIMULATE)
    return raw


@pytest.fixture(scope="session")
def dicom_path_study(tmp_path_factory) -> Path:
    """``tests.source_exporters.dicom_study``: 3 simulated patients through manifest, deidentify,
    frames and annotations. Read-only for every test: copy it to change it."""
    from tests.source_exporters import dicom_study  # PyAV and friends, for the tests that use it

    return dicom_study(tmp_path_factory.mktemp("dicom_path"))


def plant_names_in_file_names(raw: Path) -> None:
    """Prefix every DICOM file's name with its patient's family name (annotations follow)."""
    renamed = {}
    for path in sorted(raw.rglob("*.dcm")):
        family = path.parent.name.split("^")[0]
        new = path.with_name(f"{family}_{path.name}")
        path.rename(new)
        renamed[path.relative_to(raw).as_posix()] = new.relative_to(raw).as_posix()
    annotations = pd.read_csv(raw / "annotations.csv", dtype=str, keep_default_na=False)
    annotations["file"] = annotations["file"].map(renamed)
    annotations.to_csv(raw / "annotations.csv", index=False)


@dataclass(frozen=True)
class TinyStudy:
    """The two runs: work folders, the first's raw folder and config, both consoles."""

    own_data: Path
    demo: Path
    raw: Path
    own_config: Path
    consoles: dict[str, str]


@pytest.fixture(scope="session")
def tiny_study(tiny_raw, tmp_path_factory) -> TinyStudy:
    """Run the whole workflow on the tiny study as the user's own data, then as the demo.
    Tests read the runs: dry runs, ``snakemake --report`` (the own-data run's report.html lies in
    its folder), outputs moved aside and put back (test_regenerate.py); a test that re-runs a
    rule works on its own copy."""
    config = tiny_config()
    own_data = tmp_path_factory.mktemp("own_data")
    raw = copy_tree(tiny_raw / "raw", own_data / PLANTED_RAW_DIR)
    copy_tree(tiny_raw / "linkage", own_data / "linkage")
    plant_names_in_file_names(raw)
    user_config = tmp_path_factory.mktemp("own_config") / "config.yaml"
    user_config.write_text(yaml.safe_dump({
        **config, "raw_dir": PLANTED_RAW_DIR, "annotations": f"{PLANTED_RAW_DIR}/annotations.csv",
        "simulate": {**config["simulate"], "enabled": False},
    }))  # fmt: skip
    demo = tmp_path_factory.mktemp("demo")
    (demo / "config.yaml").write_text(yaml.safe_dump(config))
    consoles = {}
    for name, workdir, configfile in [("own_data", own_data, user_config), ("demo", demo, None)]:
        result = run_workflow(workdir, configfile=configfile)
        assert result.returncode == 0, result.stderr[-4000:]
        consoles[name] = result.stdout + result.stderr
    return TinyStudy(own_data, demo, raw, user_config, consoles)


@pytest.fixture(scope="session")
def tiny_runs(tiny_study) -> tuple[Path, Path]:
    """The two complete runs' work folders: (the user's own data, the demo)."""
    return tiny_study.own_data, tiny_study.demo
