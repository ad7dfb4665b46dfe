"""Shared fixtures: two complete runs of the workflow on a tiny synthetic study."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "simulate": {"patients": 8, "frames": [6, 8], "rows": 128, "columns": 160},
    "split": {"seed": 7, "fractions": {"train": 0.5, "val": 0.25, "test": 0.25}},
    "model": {"arch": "resnet18_fpn_slim", "min_size": 128, "max_size": 160},
    "train": {"epochs": 1, "batch_size": 2, "warmup_iters": 2, "workers": 0},
    "infer": {"batch_size": 4, "workers": 0},
    "evaluate": {"bootstrap": 20},
}


def run_workflow(workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the repository's Snakefile in ``workdir`` with the tiny config."""
    return subprocess.run(
        [
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
            "--cores",
            "2",
            "--configfile",
            str(workdir / "config.yaml"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Two complete runs of the workflow with the same configuration."""
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section, values in TINY.items():
        base[section].update(values)
    runs = []
    for name in ("first", "second"):
        workdir = tmp_path_factory.mktemp(name)
        (workdir / "config.yaml").write_text(yaml.safe_dump(base))
        result = run_workflow(workdir)
        assert result.returncode == 0, result.stderr[-4000:]
        runs.append(workdir)
    return runs[0], runs[1]
