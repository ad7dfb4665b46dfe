"""Benchmark of the evaluation stage (issue 4 targets), on synthetic detections.

1. fusion + matching of one sequence of 1,000 frames x 20 boxes (20,000 boxes): target <= 1 s;
2. the full evaluation (both protocols, threshold sweep at IoU 0.2 and 0.5, operating points,
   per-lesion hits, statistics, 2,000 cluster bootstraps) of 200 sequences: target <= 30 s.

Synthetic detections mimic a cine sweep: each lesion is a track of jittered boxes that grows
and shrinks across the sweep, plus a drifting false-positive structure (a rib) and one-frame
flickers at random places. Usage: ``python benchmarks/evaluate.py [--quick]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.protocol.evaluate import evaluate
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.inputs import load_sequences
from dynbus.protocol.sweep import hits_at

WIDTH, HEIGHT = 320, 256


def synthetic_sequence(
    rng: np.random.Generator, seq: str, n_frames: int, n_boxes: int, n_lesions: int
) -> tuple[list[tuple], list[tuple]]:
    """Detections and annotations of one sequence: lesion tracks, a rib track, flickers."""
    dets, anns = [], []
    tracks = []
    for lesion in range(n_lesions):
        cx, cy, size = rng.uniform(70, 250), rng.uniform(60, 190), rng.uniform(25, 60)
        tracks.append((f"L{lesion}", cx, cy, size, True))
    tracks.append(("rib", rng.uniform(60, 260), rng.uniform(40, 210), rng.uniform(30, 60), False))
    for frame in range(n_frames):
        phase = frame / max(n_frames - 1, 1)
        for name, cx, cy, size, is_lesion in tracks:
            s = size * (0.4 + 0.6 * np.sin(np.pi * phase))
            x = cx + 15 * np.sin(2 * np.pi * phase)
            gt = (x - s / 2, cy - s / 2, x + s / 2, cy + s / 2)
            if is_lesion:
                anns.append((seq, frame, name, *gt))
            if rng.uniform() < (0.8 if is_lesion else 0.4):
                box = np.asarray(gt) + rng.normal(0, 0.08 * s, 4)
                score = rng.beta(5, 2) if is_lesion else rng.beta(2, 3)
                dets.append((seq, frame, *np.sort(box.reshape(2, 2), axis=0).ravel(), score))
        for _ in range(max(n_boxes - len(tracks), 0)):
            w, h = rng.uniform(15, 70, 2)
            x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
            dets.append((seq, frame, x, y, x + w, y + h, rng.beta(1, 6)))
    return dets, anns


def write_study(folder: Path, n_sequences: int, n_frames: int, n_boxes: int, seed: int) -> None:
    """Write detections.csv, annotations.csv and manifest.csv of a synthetic study."""
    rng = np.random.default_rng(seed)
    dets, anns, rows = [], [], []
    for k in range(n_sequences):
        seq, lesions = f"S{k:04d}", int(rng.choice([0, 1, 1, 2]))
        d, a = synthetic_sequence(rng, seq, n_frames, n_boxes, lesions)
        dets += d
        anns += a
        rows.append((seq, f"P{k // 2:04d}", "test", n_frames, lesions))
    pd.DataFrame(dets, columns=["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]).to_csv(
        folder / "detections.csv", index=False
    )
    ann_columns = ["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
    pd.DataFrame(anns, columns=ann_columns).to_csv(folder / "annotations.csv", index=False)
    pd.DataFrame(
        rows, columns=["sequence_id", "patient_id", "split", "n_frames", "n_lesions"]
    ).to_csv(folder / "manifest.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller bootstrap, for a smoke run")
    args = parser.parse_args()
    config = study_config.load(None)
    fusion = FusionSettings.from_config(config["fusion"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_study(folder, 1, 1000, 20, seed=1)
        seq = load_sequences(
            folder / "detections.csv",
            folder / "annotations.csv",
            folder / "manifest.csv",
            None,
            "annotated",
            11,
        )[0]
        start = time.perf_counter()
        hit, fp = hits_at(seq, "multi", fusion, -np.inf, 0.2)
        one = time.perf_counter() - start
        print(
            f"fusion+matching, 1 sequence, {len(seq.scores)} boxes: {one:.3f} s "
            f"(target 1 s, ratio {one / 1.0:.2f}; {int(hit.sum())} TP, {fp} FP)"
        )
        write_study(folder, 200, 30, 10, seed=2)
        if args.quick:
            config["evaluate"]["bootstrap"] = 200
        start = time.perf_counter()
        seqs = load_sequences(
            folder / "detections.csv",
            folder / "annotations.csv",
            folder / "manifest.csv",
            None,
            "annotated",
            11,
        )
        tables = evaluate(seqs, config)
        full = time.perf_counter() - start
        boxes = sum(len(s.scores) for s in seqs)
        print(
            f"full evaluation, {len(seqs)} sequences, {boxes} boxes, "
            f"{config['evaluate']['bootstrap']} bootstraps: {full:.2f} s "
            f"(target 30 s, ratio {full / 30.0:.2f})"
        )
        print(tables["counts"].to_string(index=False))


if __name__ == "__main__":
    main()
