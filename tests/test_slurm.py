"""The SLURM profile on a real single-node SLURM (.ci/slurm/up.sh): the whole demo DAG gives the
same tables as a local run, per-sequence jobs go in groups, and a failing job fails the run.

Needs root and Debian's SLURM packages (.ci/slurm/install.sh); skipped otherwise, except under CI
(CI=true), where a missing SLURM is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
CI_SLURM = ROOT / ".ci" / "slurm"
SNAKEMAKE = ["snakemake", "-s", str(ROOT / "Snakefile")]
# Every snakemake run here is interrupted (SIGINT, so it cancels its SLURM jobs) after this long.
RUN_TIMEOUT_S = 900


def _slurm_missing() -> str | None:
    if os.geteuid() != 0:
        return "not root: the test cluster's daemons run as root"
    missing = [cmd for cmd in ("munged", "slurmctld", "slurmd", "sbatch") if not shutil.which(cmd)]
    if missing:
        return f"{', '.join(missing)} not installed: run .ci/slurm/install.sh"
    if Path("/etc/slurm/slurm.conf").exists():
        return "/etc/slurm/slurm.conf exists: a SLURM is already configured on this machine"
    return None


REASON = _slurm_missing()
if REASON and os.environ.get("CI") == "true":
    pytest.fail(f"CI must run the SLURM tests: {REASON}", pytrace=False)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


def merge(base: dict, overlay: dict) -> dict:
    """``base`` with ``overlay``'s values, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_ci_profile(directory: Path, **extra) -> Path:
    """The user's profiles/slurm with .ci/slurm/profile-overlay.yaml (and ``extra``) on top."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    for overlay in (yaml.safe_load((CI_SLURM / "profile-overlay.yaml").read_text()), extra):
        profile = merge(profile, overlay)
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return directory


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running single-node SLURM; yields the environment that reaches it."""
    state = tmp_path_factory.mktemp("slurm")
    up = subprocess.run(
        [str(CI_SLURM / "up.sh"), str(state)], capture_output=True, text=True, timeout=120
    )
    assert up.returncode == 0, up.stderr
    pids = [
        int(line.split()[1])
        for line in (state / "pids").read_text().splitlines()
        if not line.startswith("link ")
    ]
    env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    try:
        yield env
    finally:
        down = subprocess.run(
            [str(CI_SLURM / "down.sh"), str(state)], capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 0, down.stderr
        assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], "daemons still run"
        assert not Path("/etc/slurm/slurm.conf").exists()


def snakemake(workdir: Path, env: dict, *args: str) -> subprocess.CompletedProcess[str]:
    """Run snakemake in ``workdir`` (interrupted with SIGINT after RUN_TIMEOUT_S)."""
    command = [
        "timeout",
        "-s",
        "INT",
        str(RUN_TIMEOUT_S),
        *SNAKEMAKE,
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S + 60
    )


def tiny_workdir(path: Path) -> Path:
    """A work folder holding the tiny demo config (the one tests/test_workflow.py runs)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section, values in TINY.items():
        config[section].update(values)
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return path


def cluster_jobs(env: dict) -> dict[str, str]:
    """Job id -> comment (`rule_<name>`, set by the plugin) of every job the cluster knows."""
    out = subprocess.run(
        ["squeue", "-h", "--states=all", "-o", "%i %k"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return dict(line.split(maxsplit=1) for line in out.splitlines() if line.strip())


def test_demo_dag_on_slurm_gives_the_local_tables(cluster, tiny_runs, tmp_path):
    local, _ = tiny_runs
    on_slurm = tiny_workdir(tmp_path / "slurm")
    profile = write_ci_profile(tmp_path / "profile")
    before = cluster_jobs(cluster)
    result = snakemake(on_slurm, cluster, "--profile", str(profile))
    assert result.returncode == 0, result.stderr[-4000:]

    tables = sorted(path.relative_to(local) for path in (local / "results" / "tables").iterdir())
    assert tables, "the local run wrote no table"
    for table in tables:
        assert (on_slurm / table).read_bytes() == (local / table).read_bytes(), table

    # The per-sequence work went to SLURM as one prepare job per shard of sequences; the
    # per-sequence links out of the shards ran on the submitting node, never as cluster jobs.
    after = cluster_jobs(cluster)
    submitted = {job: comment for job, comment in after.items() if job not in before}
    shards = [path for path in (on_slurm / "results" / "prepared").iterdir() if path.is_dir()]
    # The plugin's comment is rule_<name>, with _wildcards_<values> for a job with wildcards.
    rules = [comment.split("_wildcards_")[0] for comment in submitted.values()]
    assert shards and rules.count("rule_prepare") == len(shards), submitted
    assert not {"rule_deidentify", "rule_frames"} & set(rules), submitted  # no per-sequence jobs
    assert "rule_collect_prepared" not in rules, submitted  # local: it only links files


def test_a_failing_job_fails_the_run(cluster, tmp_path):
    workdir = tmp_path / "failing"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(
        'rule all:\n    input: "ok.txt", "broken.txt"\n\n'
        'rule ok:\n    output: "ok.txt"\n    shell: "touch {output}"\n\n'
        'rule broken:\n    output: "broken.txt"\n    shell: "echo broken >&2; exit 3"\n'
    )
    profile = write_ci_profile(tmp_path / "profile")
    result = subprocess.run(
        [
            "timeout",
            "-s",
            "INT",
            "300",
            "snakemake",
            "--profile",
            str(profile),
            "--directory",
            str(workdir),
            "-s",
            str(workdir / "Snakefile"),
        ],
        capture_output=True,
        text=True,
        env=cluster,
        timeout=360,
    )
    assert result.returncode not in (0, 124), result.stderr[-3000:]  # failed, not timed out
    assert re.search(r"Error in rule broken:.*SLURM status is: 'FAILED'", result.stderr, re.S)
    assert (workdir / "ok.txt").exists()  # the other job ran on the cluster
    assert not (workdir / "broken.txt").exists()
