"""Shared fixtures: two complete runs of the workflow on the same tiny synthetic study.

The first run treats the study as the user's own data (``simulate.enabled: false``) with patient
names planted in the raw folder's name, its folder names and its file names; the second is the
built-in demo (``simulate.enabled: true``, folder ``demo/``). Both use the demo's key, so their
tables must agree byte for byte.
"""

from __future__ import annotations

import json
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
def tiny_study(tmp_path_factory) -> TinyStudy:
    """Run the whole workflow on the tiny study as the user's own data, then as the demo."""
    config = tiny_config()
    own_data = tmp_path_factory.mktemp("own_data")
    raw = own_data / PLANTED_RAW_DIR
    simulate_study(raw, config["simulate"], key=own_data / "linkage" / "key.hex")
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
