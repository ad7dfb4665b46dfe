"""``dynbus overlays``: one video per test sequence with ground truth, detections and fused groups.

The paper's Figs 4-5 as video, under the multi-frame protocol at one operating point (``--iou``,
``--fp-rate``; its threshold from ``counts.csv``). Each frame shows the annotated boxes (blue;
dashed yellow when the lesion is missed, a false negative), the frame's detections kept at the
threshold coloured by the outcome of their fused group (green TP, red FP, grey duplicate), thick
and tagged ``g<k> <score>`` when the group spans two or more frames, and a banner with the frame
counter and the legend. Writes into ``--out``: ``videos/<sequence>.mp4`` (or ``.gif`` where no
MP4 encoder works), ``index.csv`` (per sequence: counts, FP group scores, missed lesions and the
rank among the worst FPs and FNs) and ``worst.html`` (the worst FP and FN videos, embedded).
"""

from __future__ import annotations

import argparse
import base64
import functools
import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from dynbus import config as study_config
from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_dir, atomic_open, write_csv
from dynbus.metrics.videos import Video, add_video_arguments, videos_from_args
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.inputs import add_operating_point_arguments, operating_threshold
from dynbus.protocol.matching import DUPLICATE, FALSE_POSITIVE, greedy_match
from dynbus.protocol.sweep import fused_groups
from dynbus.reporting.drawing import STYLE, draw_box, load_frame
from dynbus.reporting.video_writer import FORMATS, video_format, write_video

BANNER = 28  # pixels of text below each frame: counter and counts, then the legend
LEGEND = (("GT", "GT"), ("FN", "missed"), ("TP", "TP"), ("FP", "FP"), ("duplicate", "dup"))
INDEX_COLUMNS = [
    "sequence_id",
    "video",
    "n_frames",
    "fps",
    "threshold",
    "n_lesions",
    "tp",
    "fn",
    "fp",
    "duplicates",
    "max_fp_score",
    "fp_scores",
    "missed_lesions",
    "missed_frames",
    "worst_fp_rank",
    "worst_fn_rank",
]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus overlays``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_video_arguments(parser, frames_required=True)
    add_operating_point_arguments(parser)
    parser.add_argument("--out", required=True, help="folder for videos/, index.csv and worst.html")
    parser.add_argument("--worst", type=int, default=3, help="worst FP and FN sequences shown")
    parser.add_argument(
        "--format", default="auto", choices=FORMATS, help="auto: MP4 if an encoder works, else GIF"
    )
    study_config.add_config_argument(parser)
    return parser


@dataclass
class Outcome:
    """One sequence under the multi-frame protocol at the operating threshold."""

    members: np.ndarray  # indices of the sequence's boxes kept at the threshold
    labels: np.ndarray  # the group of each kept box
    kinds: list[str]  # per group: TP, FP or duplicate
    scores: np.ndarray  # per group
    fused: np.ndarray  # per group: spans two or more frames
    missed: np.ndarray  # lesion indices not hit

    def count(self, kind: str) -> int:
        """Number of groups of ``kind``."""
        return self.kinds.count(kind)


def outcome(video: Video, fusion: FusionSettings, threshold: float, hit_iou: float) -> Outcome:
    """Group the sequence's boxes at ``threshold`` and match the groups to its lesions."""
    seq = video.data
    members, labels, scores, overlap = fused_groups(seq, fusion, threshold)
    matched = greedy_match(scores, overlap, hit_iou)
    names = {FALSE_POSITIVE: "FP", DUPLICATE: "duplicate"}
    group_frames = np.unique(np.c_[labels, seq.frames[members]], axis=0)[:, 0]
    return Outcome(
        members=members,
        labels=labels,
        kinds=[names.get(int(m), "TP") for m in matched],
        scores=scores,
        fused=np.bincount(group_frames, minlength=len(scores)) >= 2,
        missed=np.setdiff1d(np.arange(len(seq.lesion_ids)), matched[matched >= 0]),
    )


def render(
    image: Image.Image, video: Video, result: Outcome, frame: int, header: str
) -> Image.Image:
    """One frame of the overlay video: boxes on the image, the banner below, even size."""
    width, height = image.size
    canvas = Image.new("RGB", (width + width % 2, height + BANNER + (height + BANNER) % 2))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = banner_font()
    for lesion, box in zip(
        video.gt_lesions[video.gt_frames == frame],
        video.gt_boxes[video.gt_frames == frame],
        strict=True,
    ):
        missed = lesion in result.missed
        draw_box(draw, box, STYLE["FN" if missed else "GT"], dashed=missed)
    seq = video.data
    here = seq.frames[result.members] == frame
    for index, label in zip(result.members[here], result.labels[here], strict=True):
        colour = STYLE[result.kinds[label]]
        box = seq.boxes[index]
        fused = bool(result.fused[label])
        draw_box(draw, box, colour, width=2 if fused else 1)
        tag = f"g{label + 1} {result.scores[label]:.2f}" if fused else f"{seq.scores[index]:.2f}"
        corner = (box[0] + 1, max(box[1] - 11, 0))
        draw.rectangle(draw.textbbox(corner, tag, font=font), fill="black")
        draw.text(corner, tag, fill=colour, font=font)
    draw.text((2, height + 1), header, fill="white", font=font)
    canvas.paste(legend(), (0, height + 14))
    return canvas


@functools.cache
def banner_font() -> ImageFont.ImageFont:
    return ImageFont.load_default_imagefont()  # Pillow's bitmap font: fast, 6 pixels a character


@functools.cache
def legend() -> Image.Image:
    """The banner's legend line: each kind's name in its colour (drawn once)."""
    font = banner_font()
    strip = Image.new("RGB", (320, 13))
    draw = ImageDraw.Draw(strip)
    x = 2
    for kind, name in LEGEND:
        draw.text((x, 0), name, fill=STYLE[kind], font=font)
        x += round(draw.textlength(name, font=font)) + 8
    draw.text((x, 0), "thick g<k>: fused group", fill="white", font=font)
    return strip


def frames_of(
    video: Video, folder: Path, result: Outcome, threshold: float
) -> Iterator[Image.Image]:
    """Every frame of the sequence, drawn (``render``), one at a time."""
    seq_id = video.data.sequence_id
    counts = f"TP {result.count('TP')} FN {len(result.missed)} FP {result.count('FP')}"
    size = None
    for frame in range(video.n_frames):
        path = folder / seq_id / f"{frame:06d}.png"
        image = load_frame(path)
        if size is not None and image.size != size:
            raise InputFileError(path, f"size {image.size} differs from the first frame's {size}")
        size = image.size
        header = f"{seq_id} frame {frame + 1}/{video.n_frames}  t {threshold:.3f}  {counts}"
        yield render(image, video, result, frame, header)


def index_row(video: Video, result: Outcome, name: str, threshold: float) -> dict[str, Any]:
    """The index entry of one sequence (ranks filled in by ``rank_worst``)."""
    seq = video.data
    fp_scores = sorted(
        (s for s, k in zip(result.scores, result.kinds, strict=True) if k == "FP"), reverse=True
    )
    missed_frames = np.isin(video.gt_lesions, result.missed)
    return {
        "sequence_id": seq.sequence_id,
        "video": f"videos/{name}",
        "n_frames": video.n_frames,
        "fps": round(1000 / video.frame_time_ms, 3),
        "threshold": threshold,
        "n_lesions": len(seq.lesion_ids),
        "tp": result.count("TP"),
        "fn": len(result.missed),
        "fp": result.count("FP"),
        "duplicates": result.count("duplicate"),
        "max_fp_score": fp_scores[0] if fp_scores else np.nan,
        "fp_scores": ";".join(f"{s:.4f}" for s in fp_scores),
        "missed_lesions": ";".join(seq.lesion_ids[k] for k in result.missed),
        "missed_frames": len(np.unique(video.gt_frames[missed_frames])),
        "worst_fp_rank": pd.NA,
        "worst_fn_rank": pd.NA,
    }


def rank_worst(index: pd.DataFrame, n: int) -> pd.DataFrame:
    """Rank the ``n`` worst FP sequences (highest-scoring false group first) and the ``n`` worst
    FN sequences (most missed lesions, then most frames showing them); ties by sequence id."""
    index = index.copy()
    worst_fp = (
        index[index["fp"] > 0]
        .sort_values(["max_fp_score", "fp", "sequence_id"], ascending=[False, False, True])
        .index[:n]
    )
    worst_fn = (
        index[index["fn"] > 0]
        .sort_values(["fn", "missed_frames", "sequence_id"], ascending=[False, False, True])
        .index[:n]
    )
    index["worst_fp_rank"] = pd.Series(range(1, len(worst_fp) + 1), index=worst_fp, dtype="Int64")
    index["worst_fn_rank"] = pd.Series(range(1, len(worst_fn) + 1), index=worst_fn, dtype="Int64")
    return index


def worst_page(index: pd.DataFrame, out: Path, title: str) -> str:
    """A standalone HTML page embedding the worst FP and FN videos (data URIs)."""
    parts = [f"<h2>{html.escape(title)}</h2>"]
    for column, heading, detail in (
        ("worst_fp_rank", "Worst false positives", "FP group scores {fp_scores}"),
        ("worst_fn_rank", "Worst false negatives", "missed lesions {missed_lesions}"),
    ):
        parts.append(f"<h3>{heading}</h3>")
        chosen = index[index[column].notna()].sort_values(column)
        if chosen.empty:
            parts.append("<p>none at this operating point</p>")
        for row in chosen.itertuples(index=False):
            data = base64.b64encode((out / row.video).read_bytes()).decode("ascii")
            text = f"{getattr(row, column)}. {row.sequence_id}: " + detail.format(**row._asdict())
            parts.append(f"<figure><figcaption>{html.escape(text)}</figcaption>")
            if row.video.endswith(".mp4"):
                parts.append(
                    f'<video controls loop muted autoplay playsinline src="data:video/mp4;'
                    f'base64,{data}"></video></figure>'
                )
            else:
                parts.append(f'<img alt="{row.sequence_id}" src="data:image/gif;base64,{data}">')
                parts.append("</figure>")
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n"
        "<style>video, img { width: 640px; max-width: 100%; }</style></head>\n"
        f'<body style="font: 14px sans-serif">\n{body}\n</body>\n</html>\n'
    )


def main(args: argparse.Namespace) -> None:
    """Write the overlay videos, ``index.csv`` and ``worst.html`` into ``args.out``."""
    config = study_config.load(args.config)
    fusion = FusionSettings.from_config(config["fusion"])
    threshold = operating_threshold(args.counts, args.iou, args.fp_rate, "multi")
    fmt = video_format(args.format)
    videos, _ = videos_from_args(args, config)
    out = Path(args.out)
    rows = []
    with atomic_dir(out / "videos") as folder:
        for video in videos:
            result = outcome(video, fusion, threshold, args.iou)
            name = f"{video.data.sequence_id}.{fmt}"
            images = frames_of(video, Path(args.frames), result, threshold)
            write_video(folder / name, images, 1000 / video.frame_time_ms, fmt)
            rows.append(index_row(video, result, name, threshold))
    index = rank_worst(pd.DataFrame(rows, columns=INDEX_COLUMNS), args.worst)
    write_csv(out / "index.csv", index)
    title = (
        f"Multi-frame detections at {args.fp_rate:g} FP/sequence "
        f"(threshold {threshold:.3f}, hit IoU ≥ {args.iou:g})"
    )
    with atomic_open(out / "worst.html", "w", encoding="utf-8") as handle:
        handle.write(worst_page(index, out, title))
