"""Benchmark: the data stages on a simulated study of the paper's size, against a bare baseline.

The paper: 506 patients, ~1,500 sequences, 156,826 frames. The simulator gives about two
sequences per patient, so ``--patients`` (default 760) sets the sequence count near the paper's
and ``--frames`` (default 84-125, mean ~104.5) the frames per sequence; ``--scale`` shrinks the
study. Frames are ``--rows`` x ``--columns`` (default 128 x 160, smaller than the paper's
~600 x 800, to keep the benchmark within minutes on 2 cores).

The study is simulated as a user's raw folder (outside the timing). Then the workflow runs for
real up to ``results/splits.csv`` with ``--cores`` cores: manifest -> prepare (de-identify,
audit, frames and their hashes; one process per shard of sequences) -> collect (hard links) ->
annotations -> duplicate check -> split. The baseline reads each raw file with pydicom and
writes its frames as PNG (``pixel_array`` -> PIL gray -> ``Image.save``) in a pool of as many
processes, over the same files, in the same run. Before each side the raw files are read once
(both find them in the page cache) and what was written before is synced (neither pays for the
other's write-back). Then ``snakemake -n`` over the whole study is timed (target <= 30 s).
Prints wall time per stage, frames/s, peak memory, disk used and the ratios, and how long the
work folder's file system takes to create a file: both sides create one file per frame, and on
the machine this was written on that cost ranged from 25 us to 800 us from one folder to another.

    .venv/bin/python benchmarks/paper_scale.py [--scale 0.1] [--cores 2] [--workdir DIR]

With ``--workdir DIR`` the study is kept in DIR/raw and a later run with the same DIR reuses it
(everything else in DIR is made anew), so the simulation can run ahead of the timed part.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import pandas as pd
import pydicom
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAPER = {"patients": 506, "sequences": 1500, "frames": 156_826}
TARGET_RATIO = 1.5
TARGET_DRY_RUN_S = 30.0
DATA_RULES = ["manifest", "prepare", "collect_prepared", "annotations", "duplicates", "split"]


def run(command: list[str], cwd: Path) -> float:
    """Run ``command`` in ``cwd`` (fail loudly); return its wall time in seconds."""
    start = time.perf_counter()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def bare_file(job: tuple[Path, Path]) -> int:
    """The baseline for one raw file: pydicom pixel_array -> gray PNG per frame; frames written."""
    path, outdir = job
    outdir.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1)) == 1:
        frames = frames[None]
    for index, frame in enumerate(frames):
        Image.fromarray(frame).convert("L").save(outdir / f"{index:06d}.png")
    return len(frames)


def bare(files: list[Path], out: Path, processes: int) -> tuple[float, int]:
    """The baseline over ``files`` in ``processes`` processes: wall seconds, frames written."""
    start = time.perf_counter()
    with Pool(processes) as pool:
        jobs = [(path, out / f"{index:06d}") for index, path in enumerate(files)]
        frames = sum(pool.map(bare_file, jobs, chunksize=4))
    return time.perf_counter() - start, frames


def disk_mib(*folders: Path) -> float:
    """MiB of the distinct files (hard links counted once) under ``folders``."""
    seen: dict[tuple[int, int], int] = {}
    for folder in folders:
        for path in folder.rglob("*"):
            info = path.lstat()
            if path.is_file() and not path.is_symlink():
                seen[(info.st_dev, info.st_ino)] = info.st_size
    return sum(seen.values()) / 2**20


def creation_us(folder: Path, files: int = 2000) -> float:
    """Microseconds to create (and write nothing into) one file in a new subfolder of ``folder``."""
    probe = Path(tempfile.mkdtemp(prefix="creation-probe-", dir=folder))
    start = time.perf_counter()
    for index in range(files):
        (probe / str(index)).touch()
    seconds = time.perf_counter() - start
    shutil.rmtree(probe)
    return seconds / files * 1e6


def read_through(files: list[Path]) -> None:
    """Read ``files`` once, so that each side finds the raw folder in the page cache: otherwise
    the first to run reads it from disk (here the manifest then waited 20-27 % of its time)."""
    for path in files:
        with path.open("rb") as handle:
            while handle.read(1 << 20):
                pass


def job_times(work: Path) -> pd.DataFrame:
    """Per data rule: jobs, summed job wall seconds, CPU seconds, peak RSS (benchmark TSVs)."""
    rows = []
    for rule in DATA_RULES:
        paths = sorted((work / "benchmarks" / "out").glob(f"{rule}.tsv")) + sorted(
            (work / "benchmarks" / "out" / rule).glob("*.tsv")
        )
        table = pd.concat([pd.read_csv(path, sep="\t") for path in paths])
        rows.append((rule, len(paths), table["s"].sum(), table["cpu_time"].sum(),
                     table["max_rss"].max()))  # fmt: skip
    return pd.DataFrame(rows, columns=["rule", "jobs", "job_s", "cpu_s", "peak_rss_mib"])


def main() -> None:
    """Simulate, run the data stages and the baseline, time the dry run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the study size")
    parser.add_argument("--patients", type=int, default=760, help="at scale 1 (~1,500 seqs)")
    parser.add_argument("--frames", type=int, nargs=2, default=[84, 125], help="min max per seq")
    parser.add_argument("--rows", type=int, default=128)
    parser.add_argument("--columns", type=int, default=160)
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores; pool processes")
    parser.add_argument("--workdir", type=Path, help="keep the study here (reused when present)")
    args = parser.parse_args()
    patients = max(2, round(args.patients * args.scale))
    simulate = {"frames": args.frames, "rows": args.rows, "columns": args.columns}
    with tempfile.TemporaryDirectory(prefix="dynbus-paper-scale-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for made in [p for p in work.iterdir() if p.name != "raw"]:
            if made.is_dir():
                shutil.rmtree(made)
            else:
                made.unlink()
        simulate_s = 0.0
        if not (work / "raw").is_dir():
            simulate_s = run(
                [str(BIN / "dynbus"), "simulate", "--out", "raw", "--seed", "1",
                 "--patients", str(patients), "--config", json.dumps({"simulate": simulate})],
                work,
            )  # fmt: skip
        config = {
            "simulate": {"enabled": False},
            "raw_dir": "raw",
            "annotations": "raw/annotations.csv",
            "linkage": {"dir": "linkage", "key": "linkage/key.hex"},
        }
        (work / "config.yaml").write_text(json.dumps(config))
        create_us = creation_us(work)
        raw_files = sorted(path for path in (work / "raw").rglob("*.dcm"))
        read_through(raw_files)
        os.sync()  # each timed part writes back its own data, not what came before it
        snakemake = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"),
                     "--configfile", "config.yaml", "--cores", str(args.cores)]  # fmt: skip
        stages_s = run([*snakemake, "results/splits.csv"], work)
        manifest = pd.read_csv(work / "results" / "manifest.csv")
        read_through(raw_files)
        os.sync()
        bare_s, bare_frames = bare(raw_files, work / "bare", args.cores)
        dry_run_s = run([*snakemake, "-n", "--quiet", "rules"], work)
        times = job_times(work)
        disk = {
            "raw": disk_mib(work / "raw"),
            "prepared (deid + frames, linked out)": disk_mib(
                work / "results" / "prepared", work / "results" / "frames"
            ),
            "bare PNGs": disk_mib(work / "bare"),
        }
    frames = int(manifest["n_frames"].sum())
    if frames != bare_frames:
        sys.exit(f"the baseline wrote {bare_frames} frames, the manifest lists {frames}")
    report(args, patients, len(manifest), frames, simulate_s, stages_s, times, bare_s,
           dry_run_s, disk, create_us)  # fmt: skip


def report(args: argparse.Namespace, patients: int, sequences: int, frames: int,
           simulate_s: float, stages_s: float, times: pd.DataFrame, bare_s: float,
           dry_run_s: float, disk: dict[str, float], create_us: float) -> None:  # fmt: skip
    """Print the figures and the ratios to the baseline and the targets."""
    print(
        f"study: {patients} patients, {sequences} sequences, {frames} frames of "
        f"{args.rows}x{args.columns} (paper: {PAPER['patients']}, ~{PAPER['sequences']}, "
        f"{PAPER['frames']}); simulated in {simulate_s:.0f} s"
    )
    print(f"--cores {args.cores}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"creating a file in the work folder: {create_us:.0f} us")
    print(times.to_string(index=False, float_format=lambda value: f"{value:.1f}"))
    duplicates_s = float(times.set_index("rule").loc["duplicates", "job_s"])
    without = stages_s - duplicates_s
    print(
        f"data stages to results/splits.csv: {stages_s:.1f} s wall, {frames / stages_s:.0f} "
        f"frames/s; without the duplicate check's job time: {without:.1f} s, "
        f"{frames / without:.0f} frames/s"
    )
    print(
        f"bare baseline (pydicom pixel_array -> PIL PNG, {args.cores} processes): "
        f"{bare_s:.1f} s, {frames / bare_s:.0f} frames/s"
    )
    for name, seconds in (("whole data stage", stages_s), ("without duplicate check", without)):
        ratio = bare_s / seconds
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(f"throughput / bare, {name}: {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)")
    verdict = "meets" if dry_run_s <= TARGET_DRY_RUN_S else "misses"
    print(
        f"snakemake -n over the whole study: {dry_run_s:.1f} s ({verdict} the "
        f"{TARGET_DRY_RUN_S:.0f} s target)"
    )
    print("disk MiB: " + ", ".join(f"{name} {mib:.0f}" for name, mib in disk.items()))


if __name__ == "__main__":
    main()
