"""The workflow used as a Snakemake module by another workflow, in a folder of its own.

The consumer's Snakefile is what ``snakedeploy deploy-workflow`` writes (with a local path in
place of ``github(...)``); the run goes simulate -> manifest -> annotations -> split for real.
A consumer rule records the PYTHONPATH the module sets for every job: the module's own
``src/`` when it is on disk, nothing (the installed ``dynbus``) for a copy without ``src/``,
which is what a remote ``github(...)`` module is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from tests.conftest import ROOT, TINY

CONSUMER = """\
configfile: "config.yaml"


module dynbus:
    snakefile:
        {snakefile!r}
    config:
        config


use rule * from dynbus


rule pythonpath:
    output:
        "pythonpath.txt",
    shell:
        "echo \\"$PYTHONPATH\\" > {{output}}"
"""


def consumer(folder: Path, snakefile: Path) -> Path:
    """A workflow folder using ``snakefile`` as a module, with the tiny study's config."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section, values in TINY.items():
        config[section].update(values)
    config["simulate"]["patients"] = 4
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "Snakefile").write_text(CONSUMER.format(snakefile=str(snakefile)))
    return folder


def snakemake(workdir: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """Run Snakemake in ``workdir`` (its own Snakefile) with an empty PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": ""}
    return subprocess.run(
        ["snakemake", "--cores", "2", *targets],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_workflow_runs_as_a_module_of_another_workflow(tmp_path):
    workdir = consumer(tmp_path / "study", ROOT / "workflow" / "Snakefile")
    result = snakemake(workdir, "results/reports/split_summary.csv", "pythonpath.txt")
    assert result.returncode == 0, result.stderr[-4000:]
    assert (workdir / "pythonpath.txt").read_text().strip() == str(ROOT / "src")
    splits = pd.read_csv(workdir / "results" / "splits.csv")
    assert len(splits) > 0
    assert splits.groupby("patient_id")["split"].nunique().eq(1).all()
    summary = pd.read_csv(workdir / "results" / "reports" / "split_summary.csv")
    assert {"train", "val", "test"} <= set(summary["split"])
    assert (workdir / "demo" / "key.hex").is_file()
    assert not (ROOT / "pythonpath.txt").exists()


def test_a_module_without_its_source_runs_the_installed_dynbus(tmp_path):
    copy = tmp_path / "remote"
    for folder in ("workflow", "envs"):
        shutil.copytree(ROOT / folder, copy / folder)
    workdir = consumer(tmp_path / "study", copy / "workflow" / "Snakefile")
    result = snakemake(workdir, "simulate", "pythonpath.txt")
    assert result.returncode == 0, result.stderr[-4000:]
    assert (workdir / "pythonpath.txt").read_text().strip() == ""
    assert list((workdir / "demo" / "raw").rglob("*.dcm"))
