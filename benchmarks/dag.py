"""Benchmark: Snakemake DAG building on a paper-scale raw folder (target: `snakemake -n` <= 60 s).

Simulates tiny cine loops for ~1,500 sequences (the paper has 506 patients
and ~1,500 sequences), runs the manifest checkpoint for real, then times `snakemake -n` over the
whole workflow (all per-sequence jobs in the DAG). Prints the figures and the ratio to the target.

    .venv/bin/python benchmarks/dag.py [--patients 780]
"""

from __future__ import annotations

import argparse
import json
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


def simulate_raw(work: Path, patients: int) -> int:
    """Simulate ``patients`` with tiny sequences (4 frames of 128x128); return the file count."""
    tiny = {"simulate": {"frames": [4, 4], "rows": 128, "columns": 128}}
    run(
        [str(BIN / "dynbus"), "simulate", "--out", str(work / "raw"), "--seed", "1",
         "--patients", str(patients), "--config", json.dumps(tiny)],
        work,
    )  # fmt: skip
    return sum(1 for _ in (work / "raw").rglob("*.dcm"))


def main() -> None:
    """Time the manifest checkpoint and the dry-run DAG on a paper-scale raw folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--patients", type=int, default=780, help="about 1.95 sequences each: 1,500+ in all"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dynbus-dag-") as tmp:
        work = Path(tmp)
        n_files = simulate_raw(work, args.patients)
        config = {
            "simulate": {"enabled": False},
            "raw_dir": "raw",
            "annotations": "raw/annotations.csv",
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
        manifest_s = run(
            ["env", f"PATH={BIN}:/usr/bin:/bin", *snakemake, "--until", "manifest"], work
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
