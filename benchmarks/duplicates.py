"""Time the duplicate check at the paper's scale: 157k frames hashed and compared.

Hashing: ``--sources`` synthetic sequences of 256 x 320 speckle frames are written as frame
folders (our PNG writer); ``dynbus.dataset.duplicates.hash_sequence`` then reads and hashes
``--frames`` frames in total, cycling over those folders (page cache warm, as right after the
frames stage), with ``--workers`` threads. Comparison: ``near_pairs`` on ``--frames`` hashes
shaped like real sequences (one random 256-bit start per sequence of ``--length`` frames, 0-4
bits flipped from frame to frame) plus ``--planted`` copies of whole sequences with 0-8 bits
flipped, which it must all find. Crop-tolerant scores (:mod:`dynbus.ingest.crop_match`):
``--frames`` thumbnails (a smooth random image per sequence of ``--length`` frames, each frame
with noise), and how many sequence pairs were candidates of the fine pass. Prints the times and
their sum; ``--crop-only`` times the crop-tolerant scores alone.

    python benchmarks/duplicates.py [--frames 157000] [--workers 2] [--max-distance 12]
        [--crop-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from dynbus.dataset.duplicates import hash_sequence, near_pairs
from dynbus.ingest.crop_match import CANDIDATE_MIN, MATCHED_FRAMES, sequence_similarity
from dynbus.io.atomic import write_json
from dynbus.io.png_io import encode_png


def write_sources(root: Path, sources: int, length: int) -> list[Path]:
    """``sources`` frame folders of ``length`` speckle frames (256 x 320)."""
    rng = np.random.default_rng(0)
    folders = []
    for index in range(sources):
        folder = root / f"S{index:04d}"
        folder.mkdir()
        base = rng.random((256, 320))
        for frame in range(length):
            image = np.clip(base * rng.rayleigh(0.5, base.shape) * 180, 0, 255).astype(np.uint8)
            (folder / f"{frame:06d}.png").write_bytes(encode_png(image))
        write_json(folder / "meta.json", {"n_frames": length, "rows": 256, "columns": 320})
        folders.append(folder)
    return folders


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_hashing(
    folders: list[Path], frames: int, length: int, workers: int
) -> tuple[float, float]:
    """(wall, CPU) seconds to read and hash ``frames`` frames, cycling over ``folders``."""
    jobs = [folders[k % len(folders)] for k in range(frames // length)]
    start, cpu = time.perf_counter(), cpu_seconds()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(hash_sequence, jobs))
    return time.perf_counter() - start, cpu_seconds() - cpu


def synthetic_hashes(
    frames: int, length: int, planted: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, set[tuple[int, int]]]:
    """Random-walk 256-bit hash sequences (0-4 bits flipped per frame), plus planted copies of
    whole sequences with 0-8 bits flipped per frame; returns (hashes, owners, planted pairs)."""
    sequences = frames // length
    walks = []
    for _ in range(sequences):
        steps = np.zeros((length, 256), dtype=np.uint8)
        steps[0] = rng.integers(0, 2, 256)
        for frame in range(1, length):
            steps[frame, rng.choice(256, rng.integers(0, 5), replace=False)] = 1
        walks.append(np.bitwise_xor.accumulate(steps, axis=0))
    pairs = set()
    for copy, source in enumerate(rng.choice(sequences, planted, replace=False)):
        noisy = walks[source].copy()
        for frame in range(length):
            noisy[frame, rng.choice(256, rng.integers(0, 9), replace=False)] ^= 1
        walks.append(noisy)
        pairs.add((int(source), sequences + copy))
    owners = np.repeat(np.arange(len(walks)), length)
    hashes = np.packbits(np.concatenate(walks), axis=1, bitorder="little").view("<u8")
    return hashes, owners, pairs


def time_crop_scores(
    frames: int, length: int, rng: np.random.Generator
) -> tuple[float, float, int]:
    """(wall, CPU) seconds of the crop-tolerant scores of ``frames`` synthetic thumbnails, and
    how many sequence pairs were candidates."""
    sequences = frames // length
    base = gaussian_filter(rng.random((sequences, 32, 32)), (0, 2, 2)) * 400
    thumbs = np.repeat(base, length, axis=0) + rng.normal(0, 4, (sequences * length, 32, 32))
    thumbs = np.clip(thumbs, 0, 255).astype(np.uint8)
    owners = np.repeat(np.arange(sequences), length)
    start, cpu = time.perf_counter(), cpu_seconds()
    score = sequence_similarity(thumbs, owners, sequences, MATCHED_FRAMES)
    candidates = int(np.triu(score >= CANDIDATE_MIN, 1).sum())
    return time.perf_counter() - start, cpu_seconds() - cpu, candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=157_000)
    parser.add_argument("--length", type=int, default=50, help="frames per sequence")
    parser.add_argument("--sources", type=int, default=40, help="distinct frame folders on disk")
    parser.add_argument("--planted", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-distance", type=int, default=12)
    parser.add_argument("--crop-only", action="store_true", help="time the crop scores alone")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    cropping, cropping_cpu, candidates = time_crop_scores(
        args.frames, args.length, np.random.default_rng(2)
    )
    print(
        f"crop-tolerant scores of {args.frames} frames: {cropping:6.1f} s wall, "
        f"{cropping_cpu:6.1f} s CPU ({candidates} candidate pairs)"
    )
    if args.crop_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_sources(Path(tmp), args.sources, args.length)
        hashing, hashing_cpu = time_hashing(folders, args.frames, args.length, args.workers)
    hashes, owners, planted = synthetic_hashes(
        args.frames, args.length, args.planted, np.random.default_rng(1)
    )
    start, cpu = time.perf_counter(), cpu_seconds()
    i, j, _ = near_pairs(hashes, owners, args.max_distance)
    comparing, comparing_cpu = time.perf_counter() - start, cpu_seconds() - cpu
    found = set(zip(owners[i].tolist(), owners[j].tolist(), strict=True))
    missed = len(planted - found)
    print(
        f"hash {args.frames} frames (256x320 PNG, {args.workers} threads): {hashing:6.1f} s wall, "
        f"{hashing_cpu:6.1f} s CPU ({args.frames / hashing:.0f} frames/s)"
    )
    print(
        f"compare {len(hashes)} hashes (max distance {args.max_distance}): {comparing:6.1f} s "
        f"wall, {comparing_cpu:6.1f} s CPU; {len(found)} sequence pairs, planted missed: "
        f"{missed}/{len(planted)}"
    )
    print(
        f"total: {hashing + comparing + cropping:.1f} s wall, "
        f"{hashing_cpu + comparing_cpu + cropping_cpu:.1f} s CPU"
    )


if __name__ == "__main__":
    main()
