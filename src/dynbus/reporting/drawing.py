"""Boxes drawn onto frames (Pillow), one colour per outcome, for the figures and the overlays.

An item is ``(kind, box)`` with ``kind`` a key of ``STYLE`` and ``box`` ``x1, y1, x2, y2`` in
pixels of the full frame. Missed lesions (``FN``) are dashed; the rest solid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from dynbus.errors import InputFileError

STYLE = {
    "TP": "#2ca02c",
    "FP": "#d62728",
    "FN": "#ffdd00",
    "duplicate": "#aaaaaa",
    "GT": "#00bfff",
}
DASH = 4  # pixels drawn, then skipped, along a dashed edge


def load_frame(path: str | Path) -> Image.Image:
    """A frame PNG as an RGB image; a missing or unreadable file is an ``InputFileError``."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "frame image not found (run dynbus frames for this sequence)")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError as error:
        raise InputFileError(path, f"not a readable image ({error})") from error


def draw_box(
    draw: ImageDraw.ImageDraw,
    box: Sequence[float],
    colour: str,
    width: int = 1,
    dashed: bool = False,
) -> None:
    """Outline ``box`` (continuous pixel coordinates) on ``draw``."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    if not dashed:
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        return
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for start in range(0, length + 1, 2 * DASH):
            end = min(start + DASH, length)
            draw.line(
                (_along(a, b, start, length), _along(a, b, end, length)), fill=colour, width=width
            )


def _along(a: tuple[int, int], b: tuple[int, int], step: int, length: int) -> tuple[int, int]:
    if length == 0:
        return a
    return (a[0] + (b[0] - a[0]) * step // length, a[1] + (b[1] - a[1]) * step // length)


def draw_items(
    image: Image.Image, items: Iterable[tuple[str, Sequence[float]]], width: int = 1
) -> Image.Image:
    """A copy of ``image`` (RGB) with each ``(kind, box)`` outlined in its ``STYLE`` colour."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    for kind, box in items:
        draw_box(draw, box, STYLE[kind], width, dashed=kind == "FN")
    return out
