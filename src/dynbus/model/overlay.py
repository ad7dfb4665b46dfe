"""Overlay videos of ``dynbus predict``: each frame with the candidates flagged at a frozen point.

Drawn with the study's overlay pieces (``dynbus.reporting.drawing.draw_box``, the overlays'
banner height and font, ``dynbus.reporting.video_writer``): a candidate's best box in each frame,
green when it is positive at one or more operating points (grey otherwise), tagged
``c<k> <score>``, and a banner with the frame counter and the points that flag the sequence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw

from dynbus.reporting.drawing import STYLE, draw_box, load_frame
from dynbus.reporting.overlays import BANNER, banner_font
from dynbus.reporting.video_writer import write_video

DEFAULT_FPS = 30.0


def frames(
    folder: Path, n_frames: int, boxes: pd.DataFrame, flagged: set[int], header: str
) -> Iterator[Image.Image]:
    """Every frame of a sequence (``folder/{frame:06d}.png``) with its candidates' boxes."""
    font = banner_font()
    by_frame = dict(tuple(boxes.groupby("frame"))) if len(boxes) else {}
    for frame in range(n_frames):
        image = load_frame(folder / f"{frame:06d}.png")
        width, height = image.size
        canvas = Image.new("RGB", (width + width % 2, height + BANNER + (height + BANNER) % 2))
        canvas.paste(image, (0, 0))
        draw = ImageDraw.Draw(canvas)
        here = by_frame.get(frame)
        for row in () if here is None else here.itertuples(index=False):
            colour = STYLE["TP" if row.candidate in flagged else "duplicate"]
            box = (row.x1, row.y1, row.x2, row.y2)
            draw_box(draw, box, colour, width=2 if row.candidate in flagged else 1)
            tag = f"c{row.candidate} {row.score:.2f}"
            corner = (row.x1 + 1, max(row.y1 - 11, 0))
            draw.rectangle(draw.textbbox(corner, tag, font=font), fill="black")
            draw.text(corner, tag, fill=colour, font=font)
        draw.text((2, height + 1), f"frame {frame + 1}/{n_frames}", fill="white", font=font)
        draw.text((2, height + 14), header, fill="white", font=font)
        yield canvas


def write_overlay(
    path: Path,
    folder: Path,
    n_frames: int,
    frame_time_ms: float | None,
    candidates: pd.DataFrame,
    boxes: pd.DataFrame,
    decisions: list[str],
    fmt: str,
) -> None:
    """Write one sequence's overlay video (``fmt``: ``mp4`` or ``gif``) to ``path``."""
    flagged = {
        int(row["candidate"]) for _, row in candidates.iterrows() if any(row[d] for d in decisions)
    }
    positive = [d for d in decisions if len(candidates) and candidates[d].any()]
    header = f"{folder.name}  positive at: {', '.join(positive) or 'none'}"
    fps = 1000 / frame_time_ms if frame_time_ms else DEFAULT_FPS
    write_video(path, frames(folder, n_frames, boxes, flagged, header), fps, fmt)
