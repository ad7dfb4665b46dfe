"""Checks of what a table or a figure shows, beyond its existence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def assert_table_shows_the_counts(table_csv: Path, counts_csv: Path, iou: float) -> None:
    """Each (FP rate, method) row of ``counts_csv`` at ``iou`` is in the table as the paper
    prints it: FN, TP, FP and the sensitivity in % to one decimal; nothing else is."""
    table = pd.read_csv(table_csv, dtype=str, keep_default_na=False).set_index("row")
    counts = pd.read_csv(counts_csv)
    counts = counts[(counts["iou"] - iou).abs() < 1e-9]
    assert len(counts) >= 2, f"no counts at IoU {iou}"
    shown = {column.rsplit(" FP/seq", 1)[0] for column in table.columns}
    assert shown == {f"{rate:g}" for rate in counts["fp_rate"]}, table.columns
    for row in counts.itertuples():
        rate = f"{row.fp_rate:g} FP/seq"
        expected = [
            str(row.fn),
            str(row.tp),
            str(row.fp),
            f"{100 * row.tp / (row.tp + row.fn):.1f}",
        ]
        fields = [f"{rate} {field}" for field in ("FN", "TP", "FP", "Sensitivity (%)")]
        assert table.loc[row.method, fields].tolist() == expected, (row.method, rate)


def assert_drawn(png: Path, min_width: int = 300) -> None:
    """``png`` is a PNG at least ``min_width`` wide with something drawn on it: many grey
    levels (text, axes, curves), and neither background nor ink filling it."""
    image = Image.open(png)
    assert image.format == "PNG" and image.size[0] >= min_width, (png.name, image.size)
    gray = np.asarray(image.convert("L"))
    assert len(np.unique(gray)) > 20, f"{png.name}: blank or nearly so"
    background = np.bincount(gray.ravel()).max() / gray.size
    assert 0.3 < background < 0.995, f"{png.name}: {background:.1%} of it one grey level"
