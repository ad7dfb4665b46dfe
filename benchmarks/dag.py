"""Benchmark: Snakemake DAG building on a paper-scale raw folder (target: `snakemake -n` <= 60 s).

Simulates tiny cine loops until there are at least 1,500 sequences (the paper has 506 patients
and ~1,500 sequences), runs the manifest checkpoint for real, then times `snakemake -n` over the
whole workflow (all per-sequence jobs in the DAG). Prints the figures and the ratio to the target.

    .venv/bin/python benchmarks/dag.py [--sequences 1500]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0
BIN = Path(sys.executable).parent


def run(command: list[str], cwd: Path) -> float:
    """Run a command (fail loudly) and return its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def simulate_raw(work: Path, sequences: int) -> int:
    """Simulate tiny sequences (4 frames of 96x96) until at least ``sequences`` exist."""
    patients = max(1, sequences * 2 // 5)
    while True:
        raw = work / "raw"
        shutil.rmtree(raw, ignore_errors=True)
        tiny = {"simulate": {"frames": [4, 4], "rows": 96, "columns": 96}}
        run(
            [
                str(BIN / "dynbus"),
                "simulate",
                "--out",
                str(raw),
                "--seed",
                "1",
                "--patients",
                str(patients),
                "--config",
                json.dumps(tiny),
            ],
            work,
        )
        found = pd.read_csv(raw / "annotations.csv")["file"].nunique()
        n_files = sum(1 for _ in raw.rglob("*.dcm"))
        if n_files >= sequences:
            return n_files
        patients = int(patients * sequences / max(found, n_files, 1)) + 1


def main() -> None:
    """Time the manifest checkpoint and the dry-run DAG on a paper-scale raw folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dynbus-dag-") as tmp:
        work = Path(tmp)
        n_files = simulate_raw(work, args.sequences)
        config = {
            "simulate": {"enabled": False},
            "linkage": {"dir": "linkage", "key": "linkage/key.hex"},
        }
        (work / "config.yaml").write_text(json.dumps(config))
        snakemake = [
            str(BIN / "snakemake"),
            "-s",
            str(ROOT / "Snakefile"),
            "--cores",
            "1",
            "--configfile",
            "config.yaml",
        ]
        env_path = f"{BIN}"
        manifest_s = run(
            ["env", f"PATH={env_path}:/usr/bin:/bin", *snakemake, "--until", "manifest"], work
        )
        dry_s = run([*snakemake, "-n", "--quiet", "rules"], work)
        n_sequences = len(pd.read_csv(work / "results" / "manifest.csv"))
    print(f"raw files: {n_files}, sequences: {n_sequences}")
    print(f"manifest checkpoint (real run): {manifest_s:.1f} s")
    print(
        f"snakemake -n (whole DAG): {dry_s:.1f} s; target {TARGET_SECONDS:.0f} s; "
        f"ratio target/measured = {TARGET_SECONDS / dry_s:.1f}x"
    )


if __name__ == "__main__":
    main()
