"""Training survives interruption inside the workflow, through the real Snakemake CLI.

On a copy of the tiny study (frames, annotations and splits already made), with a 2-epoch train:
kill -9 of the whole snakemake run during epoch 2, `--unlock`, and the same command continues at
epoch 2; a time-limited train (as on a SLURM node) stops after each epoch and Snakemake's retries
continue it. Both end with the weights and metrics of an uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_detector import assert_same_training

TARGET = "results/model/detector.pt"
# Small enough for seconds per epoch: the model sees 64 x 80 pixels, every 4th val frame.
TRAIN_CONFIG = {
    "model": {"min_size": 64, "max_size": 80},
    "train": {"epochs": 2, "val_stride": 4},
}


@pytest.fixture(scope="module")
def study(tiny_runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tiny run, its config changed to TRAIN_CONFIG (train must run again)."""
    base = tmp_path_factory.mktemp("resume") / "study"
    shutil.copytree(tiny_runs[1], base, symlinks=True)  # the demo run: config.yaml inside
    config = yaml.safe_load((base / "config.yaml").read_text())
    for section, values in TRAIN_CONFIG.items():
        config[section].update(values)
    (base / "config.yaml").write_text(yaml.safe_dump(config))
    return base


def snakemake_command(workdir: Path, *extra: str) -> list[str]:
    """`snakemake` up to the trained model in ``workdir``, with its config."""
    return [
        "snakemake",
        TARGET,
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--configfile",
        str(workdir / "config.yaml"),
        *extra,
    ]


def snakemake(workdir: Path, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        snakemake_command(workdir, *extra),
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=900,
    )


def copy_of(study: Path, name: str) -> Path:
    workdir = study.parent / name
    shutil.copytree(study, workdir, symlinks=True)
    return workdir


@pytest.fixture(scope="module")
def uninterrupted(study: Path) -> Path:
    """The 2-epoch train run in one go; the state the 1-epoch tiny run left is stale."""
    workdir = copy_of(study, "uninterrupted")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (workdir / "logs" / "train.log").read_text()
    assert "discarding the saved training state" in log
    assert "(different model configuration, train configuration, frames)" in log
    return workdir / "results" / "model"


def processes_in(workdir: Path) -> list[int]:
    """Ids of the processes whose command line names ``workdir``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(workdir) in (proc / "cmdline").read_text():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_kill_during_training_then_the_same_command_continues(
    study: Path, uninterrupted: Path
) -> None:
    workdir = copy_of(study, "killed")
    shutil.rmtree(workdir / "results" / "model" / "resume")
    state = workdir / "results" / "model" / "resume" / "state.pt"
    run = subprocess.Popen(
        snakemake_command(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while not state.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.exists() and run.poll() is None, "not killed in epoch 2"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    time.sleep(0.5)
    assert not processes_in(workdir), "a process of the killed run survived"

    assert snakemake(workdir, "--unlock").returncode == 0
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming at epoch 2 of 2" in (workdir / "logs" / "train.log").read_text()
    assert_same_training(workdir / "results" / "model", uninterrupted)


def test_time_limited_jobs_continue_one_another(study: Path, uninterrupted: Path) -> None:
    workdir = copy_of(study, "time_limited")
    # As on a SLURM node: a runtime of 0 minutes lets each train job run one epoch; the
    # SLURM profile's per-rule retries (preemptible-retries) re-submit it.
    result = snakemake(
        workdir,
        "--set-resources",
        "train:runtime=0",
        "--preemptible-rules",
        "train",
        "--preemptible-retries",
        "2",
        SLURM_JOB_ID="1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "exit status 75" in result.stderr
    assert "resuming at epoch 2 of 2" in (workdir / "logs" / "train.log").read_text()
    assert_same_training(workdir / "results" / "model", uninterrupted)
