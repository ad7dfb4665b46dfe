"""Benchmark: the training DataLoader alone (PNG decode + augmentation) at the paper's frame size.

Writes ``--frames`` speckle PNGs of 600 x 800 (as ``dynbus frames`` does), then iterates the
training DataLoader (``FrameDataset`` + ``EpochSampler`` seeds, augmentation on, batch 8) with
``--workers`` processes and prints frames/s and frames/s per CPU core. The paper preset needs
26 epochs of 116,972 frames within the train rule's runtime (720 min): 26 * 116,972 / 43,200 s
= 70.4 frames/s; the cores one GPU needs follow from the per-core rate.

    python benchmarks/loader.py [--frames 64] [--workers 2] [--batches 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from dynbus.detector.data import FrameDataset, FrameRef, collate
from dynbus.io.png_io import encode_png

NEEDED_FPS = 26 * 116_972 / (720 * 60)


def main() -> None:
    """Write the PNGs, time the loader, print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--columns", type=int, default=800)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        refs = []
        for index in range(args.frames):
            gray = np.clip(rng.rayleigh(60, (args.rows, args.columns)), 0, 255).astype(np.uint8)
            path = Path(tmp) / f"{index:06d}.png"
            path.write_bytes(encode_png(gray))
            refs.append(FrameRef("S0", index, path))
        dataset = FrameDataset(refs, {})
        keys = [(index, index * 7919) for index in range(args.frames)]  # augmentation seeds
        loader = DataLoader(dataset, batch_size=args.batch, sampler=keys, collate_fn=collate,
                            num_workers=args.workers)  # fmt: skip
        start = time.perf_counter()
        n = sum(len(images) for images, _, _ in loader)
        seconds = time.perf_counter() - start
        cpu_start = time.process_time()  # load-independent: CPU seconds per frame, one thread
        for key in keys:
            dataset[key]
        cpu_per_frame = (time.process_time() - cpu_start) / len(keys)
    cores = max(args.workers, 1)
    per_core = n / seconds / cores
    print(
        f"{n} frames {args.rows}x{args.columns}, batch {args.batch}, workers {args.workers}, "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"loader: {n / seconds:.1f} frames/s, {per_core:.1f} frames/s per core "
        "(worker start-up included)"
    )
    print(f"one busy core (CPU time, in-process): {1 / cpu_per_frame:.1f} frames/s")
    print(
        f"paper preset needs {NEEDED_FPS:.1f} frames/s: {NEEDED_FPS * cpu_per_frame:.1f} busy "
        f"cores ({NEEDED_FPS / per_core:.1f} at the wall-clock rate under this load)"
    )


if __name__ == "__main__":
    main()
