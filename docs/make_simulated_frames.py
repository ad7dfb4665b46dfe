"""Make docs/simulated_frames.png: frames of a few simulated sweeps with their annotation boxes.

Usage: .venv/bin/python docs/make_simulated_frames.py [--seed N] [--out docs/simulated_frames.png]
Rows are the first sweeps of the first patients (first, a quarter, middle and last frame);
red boxes are the annotations.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from PIL import Image, ImageDraw

from dynbus.io.atomic import atomic_path
from dynbus.simulate.study import Settings, simulate

SCALE = 2 / 3


def _frame(pixels: np.ndarray, boxes: pd.DataFrame) -> Image.Image:
    gray = pixels.mean(axis=-1).astype(np.uint8) if pixels.ndim == 3 else pixels
    image = Image.fromarray(gray).convert("RGB")
    image = image.resize((round(image.width * SCALE), round(image.height * SCALE)), Image.LANCZOS)
    draw = ImageDraw.Draw(image)
    for box in boxes.itertuples():
        draw.rectangle([v * SCALE for v in (box.x1, box.y1, box.x2, box.y2)], outline=(255, 40, 40))
    return image


def main() -> None:
    """Simulate a small study and tile frames of its first sweeps into one PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--sequences", type=int, default=4)
    parser.add_argument("--out", default=str(Path(__file__).with_name("simulated_frames.png")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        simulate(raw, Settings(args.seed, args.sequences, (20, 40), 256, 320))
        annotations = pd.read_csv(raw / "annotations.csv")
        rows = []
        first_of_patient = [
            sorted(folder.glob("*.dcm"))[0] for folder in sorted(raw.iterdir()) if folder.is_dir()
        ]
        for path in first_of_patient[: args.sequences]:
            pixels = pydicom.dcmread(path).pixel_array
            boxes = annotations[annotations.file == str(path.relative_to(raw))]
            n = len(pixels)
            tiles = [_frame(pixels[t], boxes[boxes.frame == t]) for t in (0, n // 4, n // 2, n - 1)]
            rows.append(np.concatenate([np.asarray(tile) for tile in tiles], axis=1))
    sheet = Image.fromarray(np.concatenate(rows, axis=0))
    with atomic_path(args.out) as tmp_png:
        sheet.quantize(48).save(tmp_png, format="PNG", optimize=True)


if __name__ == "__main__":
    main()
