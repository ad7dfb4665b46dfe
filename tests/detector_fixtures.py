"""Tiny detector inputs written from scratch: frames/ PNGs + meta.json, annotations.csv, splits.csv.

Each sequence is a drifting bright blob on speckle-like noise; ``negatives`` sequences per split
have no mass. Sizes are small so a real torchvision model trains in seconds.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROWS, COLUMNS = 64, 80


@dataclass(frozen=True)
class DetectorInputs:
    """Paths of one generated data set."""

    frames: Path
    annotations: Path
    splits: Path


def _frame(
    rng: np.random.Generator, shape: tuple[int, int], box: tuple[float, ...] | None
) -> np.ndarray:
    image = rng.gamma(2.0, 25.0, size=shape)
    if box is not None:
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        rx, ry = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        image[inside] = 220.0 + rng.normal(0.0, 10.0, size=int(inside.sum()))
    return np.clip(image, 0, 255).astype(np.uint8)


def write_inputs(
    root: Path,
    counts: dict[str, int] | None = None,
    negatives: int = 1,
    n_frames: int = 6,
    seed: int = 0,
    shape: tuple[int, int] = (ROWS, COLUMNS),
) -> DetectorInputs:
    """Write ``counts[split]`` sequences with a mass (+ ``negatives`` without) per split;
    frames are ``shape`` = (rows, columns) pixels."""
    counts = counts or {"train": 4, "val": 2, "test": 2}
    rng = np.random.default_rng(seed)
    frames_dir = root / "frames"
    annotation_rows, split_rows = [], []
    for split, count in counts.items():
        for number in range(count + negatives):
            sequence_id = f"{split}{number:02d}"
            has_mass = number < count
            folder = frames_dir / sequence_id
            folder.mkdir(parents=True)
            scale = shape[0] / ROWS
            x, y = rng.uniform(10, 40) * scale, rng.uniform(10, 30) * scale
            size = rng.uniform(14, 22) * scale
            for frame in range(n_frames):
                box = (x + frame, y, x + frame + size, y + size * 0.8) if has_mass else None
                Image.fromarray(_frame(rng, shape, box)).save(folder / f"{frame:06d}.png")
                if box is not None:
                    annotation_rows.append([sequence_id, frame, "1", *(round(v, 1) for v in box)])
            meta = {
                "n_frames": n_frames,
                "rows": shape[0],
                "columns": shape[1],
                "frame_time_ms": 40.0,
                "regions": [[0, 0, shape[1] - 1, shape[0] - 1]],
            }
            (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            split_rows.append([sequence_id, f"p_{sequence_id}", split, n_frames, int(has_mass)])
    annotations = root / "annotations.csv"
    _write(
        annotations, ["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"], annotation_rows
    )
    splits = root / "splits.csv"
    _write(splits, ["sequence_id", "patient_id", "split", "n_frames", "n_lesions"], split_rows)
    return DetectorInputs(frames_dir, annotations, splits)


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


TINY_CONFIG = {
    "model": {"arch": "resnet18_fpn_slim", "min_size": 64, "max_size": 80},
    "train": {"epochs": 2, "batch_size": 4, "warmup_iters": 2, "lr": 0.0005},
    "infer": {"batch_size": 8, "score_floor": 0.0},
}


def train_argv(data: DetectorInputs, out: Path, config: str, *extra: str) -> list[str]:
    """``dynbus train`` arguments on the tiny inputs, writing into ``out``."""
    return [
        "train",
        "--frames",
        str(data.frames),
        "--annotations",
        str(data.annotations),
        "--splits",
        str(data.splits),
        "--out",
        str(out),
        "--config",
        config,
        "--workers",
        "0",
        *extra,
    ]
