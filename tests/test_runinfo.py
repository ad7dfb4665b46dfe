"""``dynbus runinfo`` and ``dynbus timings``: what the report says about how a run was made."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from tests import in_process

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def dynbus(*args: str) -> subprocess.CompletedProcess[str]:
    return in_process.dynbus(*args)


def test_runinfo_writes_the_resolved_config(tmp_path: Path) -> None:
    out = tmp_path / "config.yaml"
    result = dynbus(
        "runinfo", "--config", json.dumps({"fusion": {"iou": 0.3}}), "--config-out", str(out)
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert config["fusion"]["iou"] == 0.3
    assert config["fusion"]["order"] == "threshold_then_group"  # a default, filled in
    assert config["raw_dir"].startswith("withheld") and config["linkage"].startswith("withheld")


def test_timings_sums_the_jobs_of_each_rule(tmp_path: Path) -> None:
    runs = {
        "a.tsv": "2.5\t0:00:02\t100.0\t-\t-\t-\t-\t-\t-\t1.5\n",
        "b.tsv": "4.0\t0:00:04\t300.0\t-\t-\t-\t-\t-\t-\t3.0\n",
        "c.tsv": "1.0\t0:00:01\t50.0\t-\t-\t-\t-\t-\t-\t0.5\n",
    }
    for name, row in runs.items():
        (tmp_path / name).write_text(HEADER + row, encoding="utf-8")
    result = dynbus(
        "timings",
        f"frames={tmp_path / 'a.tsv'}",
        f"frames={tmp_path / 'b.tsv'}",
        f"split={tmp_path / 'c.tsv'}",
        "--csv",
        str(tmp_path / "t.csv"),
        "--html",
        str(tmp_path / "t.html"),
    )
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(tmp_path / "t.csv").set_index("rule")
    assert summary.loc["frames"].to_dict() == {
        "jobs": 2,
        "total_s": 6.5,
        "longest_s": 4.0,
        "cpu_s": 4.5,
        "peak_rss_mib": 300.0,
    }
    assert summary.loc["split", "jobs"] == 1


def test_timings_names_a_benchmark_file_without_its_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("s\n1.0\n", encoding="utf-8")
    result = dynbus(
        "timings",
        f"train={bad}",
        "--csv",
        str(tmp_path / "t.csv"),
        "--html",
        str(tmp_path / "t.html"),
    )
    assert result.returncode == 2
    assert f"{bad}: missing columns max_rss, cpu_time" in result.stderr
    assert not (tmp_path / "t.csv").exists()
