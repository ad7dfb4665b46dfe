"""Benchmark of the video metrics and the fusion ablation (issue 11 targets), synthetic detections.

1. every video metric (frame AP50/AP75/mAP, R@16, P@R, FP chains per minute at R) with 2,000
   cluster bootstraps over 200 sequences x 30 frames: target <= 30 s;
2. the ablation's fusions (IoU grouping grid, Seq-NMS, ByteTrack) over demo-sized test
   detections, 50 sequences x 25 frames x 76 boxes: target <= 10 s (printed per variant).

The detections are ``benchmarks/evaluate.py``'s synthetic cine sweeps. Usage:
``python benchmarks/video_metrics.py [--quick]`` (from the repository root).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from evaluate import write_study  # noqa: E402

from dynbus.metrics.ablation import fuse, variants  # noqa: E402
from dynbus.metrics.video_metrics import metrics_table, video_metrics  # noqa: E402
from dynbus.metrics.videos import load_videos  # noqa: E402
from dynbus.protocol.fusion import FusionSettings  # noqa: E402


def load(folder: Path, n_sequences: int, n_frames: int, n_boxes: int) -> list:
    """Write a synthetic study into ``folder`` and load it as videos."""
    write_study(folder, n_sequences, n_frames, n_boxes, seed=2)
    return load_videos(
        folder / "detections.csv",
        folder / "annotations.csv",
        folder / "manifest.csv",
        None,
        None,
        "annotated",
        11,
    )[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 bootstraps, for a smoke run")
    args = parser.parse_args()
    n_bootstrap = 200 if args.quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        videos = load(Path(tmp), 200, 30, 10)
        start, cpu = time.perf_counter(), time.process_time()
        metrics = video_metrics(videos, n_bootstrap, 3, 1000)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        boxes = sum(len(v.data.scores) for v in videos)
        print(
            f"video metrics, {len(videos)} sequences, {boxes} boxes, {n_bootstrap} bootstraps: "
            f"{took:.2f} s, CPU {cpu:.2f} s (target 30 s, ratio {took / 30:.2f})"
        )
        print(metrics_table(metrics).to_string(index=False))
        videos = load(Path(tmp), 50, 25, 76)
        boxes = sum(len(v.data.scores) for v in videos)
        import trackers  # noqa: F401  (import time is not fusion time)

        total, cpu = 0.0, time.process_time()
        every = variants(FusionSettings())
        kinds = {
            "IoU grouping (12 variants)": [v for v in every if v.settings is not None],
            "seqnms": [v for v in every if v.name == "seqnms"],
            "tracking": [v for v in every if v.name == "tracking"],
        }
        for name, kind in kinds.items():
            start = time.perf_counter()
            for video in videos:
                fuse(kind, video, "max")
            took = time.perf_counter() - start
            total += took
            print(f"  {name:34s} {took:6.2f} s")
        cpu = time.process_time() - cpu
        print(
            f"ablation fusions, {len(videos)} sequences, {boxes} boxes: {total:.2f} s, "
            f"CPU {cpu:.2f} s (target 10 s, ratio {total / 10:.2f})"
        )


if __name__ == "__main__":
    main()
