"""What the scanner shows: B-mode image formation and the screen layout around the image area.

The image area (the DICOM ultrasound region) holds the log-compressed echo; around it the
scanner burns a banner with the patient's name, id and the date (the PHI that pixel
de-identification must blank), a depth scale, a focus marker and the preset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from dynbus import exactmath as exact
from dynbus.simulate.anatomy import Tissue
from dynbus.simulate.font import draw_text, latin_font


@dataclass(frozen=True)
class Layout:
    """Screen geometry: full frame size, image area ``(x0, y0, x1, y1)`` (end-exclusive)."""

    rows: int
    columns: int
    region: tuple[int, int, int, int]
    banner_height: int
    font_size: int
    depth_cm: float

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the image area."""
        x0, y0, x1, y1 = self.region
        return y1 - y0, x1 - x0


def banner_font_size(rows: int) -> int:
    """Text size of the banner for frames of ``rows`` rows."""
    return max(8, rows // 26)


def make_layout(rng: np.random.Generator, rows: int, columns: int) -> Layout:
    """A scanner preset: banner on top, labels on the left, depth scale on the right."""
    font_size = banner_font_size(rows)
    banner = 2 * font_size + 8
    y0 = banner + int(rng.integers(2, 6))
    y1 = rows - int(rows * rng.uniform(0.02, 0.05))
    x0 = int(columns * rng.uniform(0.09, 0.14))
    x1 = columns - int(columns * rng.uniform(0.05, 0.09))
    return Layout(
        rows,
        columns,
        (x0, y0, x1, y1),
        banner,
        font_size,
        depth_cm=float(rng.choice([3.0, 3.5, 4.0, 4.5])),
    )


def render_banner(lines: tuple[str, str], columns: int, font_size: int) -> np.ndarray:
    """The banner (``2 * font_size + 8`` rows) with two text lines, white on black, uint8."""
    image = Image.new("L", (columns, 2 * font_size + 8))
    draw = ImageDraw.Draw(image)
    for k, line in enumerate(lines):
        draw_text(draw, (4, 2 + k * (font_size + 3)), line, font_size, fill=255)
    return np.asarray(image)


def overlay(
    layout: Layout, lines: tuple[str, str], preset: list[str], focus_cm: float
) -> np.ndarray:
    """Everything burned outside the image area (rows, columns) uint8: banner, labels, scale."""
    canvas = np.zeros((layout.rows, layout.columns), np.uint8)
    canvas[: layout.banner_height] = render_banner(lines, layout.columns, layout.font_size)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = layout.region
    small = latin_font(max(7, layout.font_size - 2))
    for k, label in enumerate(preset):
        draw.text((2, y0 + 4 + k * (layout.font_size + 2)), label, fill=200, font=small)
    px_per_cm = (y1 - y0) / layout.depth_cm
    for cm in range(int(layout.depth_cm) + 1):
        y = y0 + round(cm * px_per_cm)
        draw.rectangle((x1 + 3, y - 1, x1 + 5, y), fill=230)
    yf = y0 + focus_cm * px_per_cm
    draw.polygon([(x1 + 8, yf - 3), (x1 + 8, yf + 3), (x1 + 4, yf)], fill=230)
    burned = np.array(image)
    burned[y0:y1, x0:x1] = 0
    return burned


def bmode(
    tissue: Tissue,
    speckle: np.ndarray,
    white_db: float,
    dynamic_range_db: float,
    speckle_power: float,
    focus_px: float,
) -> np.ndarray:
    """Log-compressed B-mode image (T, H, W) uint8 from the tissue volumes and the speckle;
    ``white_db`` is the echo level shown white, ``dynamic_range_db`` the level span shown,
    ``speckle_power`` in (0, 1] the weight of speckle against its mean (1 = fully developed)."""
    _, height, _ = tissue.reflect.shape
    y = np.arange(height, dtype=np.float32)
    gain = 20.0 * exact.log10(1.0 + 0.25 * exact.exp(-(((y - focus_px) / (0.2 * height)) ** 2)))
    offset = (gain - 0.013 * y - np.float32(white_db - dynamic_range_db)).astype(np.float32)
    echo = np.float32(1.0 - speckle_power) + np.float32(speckle_power) * speckle
    echo *= np.maximum(tissue.reflect, 1e-4)
    decibels = exact.log10(echo)
    decibels -= np.cumsum(tissue.atten, axis=1) * np.float32(exact.INV_LN10)
    decibels *= np.float32(20.0)
    decibels += offset[None, :, None]
    image = decibels * np.float32(255.0 / dynamic_range_db)
    return np.clip(image, 0, 255).astype(np.uint8)


def compose(
    layout: Layout, image: np.ndarray, burned: np.ndarray, colour: tuple[int, int, int] | None
) -> np.ndarray:
    """Full frames: the image inside its area, burned text outside; gray, or RGB text colour."""
    x0, y0, x1, y1 = layout.region
    frames = np.broadcast_to(burned, (len(image), *burned.shape)).copy()
    frames[:, y0:y1, x0:x1] = image
    if colour is None:
        return frames
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    tint = np.asarray(colour, np.float32) / 255.0
    text = burned > 0
    rgb[:, text] = (burned[text][:, None] * tint).astype(np.uint8)
    return rgb
