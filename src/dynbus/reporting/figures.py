"""``dynbus figures``: a qualitative figure like the paper's Figs 4-5 (e.g. ``examples.png``).

Test frames drawn by the single-frame protocol, with the detections kept at the operating
threshold (``--iou``, ``--fp-rate``): true positives green, false positives (e.g. a rib) red,
missed lesions (false negatives) yellow, duplicates grey. Frames are chosen to show each kind.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_path
from dynbus.protocol.boxes import iou_matrix
from dynbus.protocol.inputs import (
    ANNOTATION_COLUMNS,
    BOX,
    DETECTION_COLUMNS,
    add_operating_point_arguments,
    operating_threshold,
    read_table,
)
from dynbus.protocol.matching import DUPLICATE, FALSE_POSITIVE, greedy_match
from dynbus.reporting.drawing import STYLE, draw_items, load_frame

KINDS = ("TP", "FP", "FN", "duplicate")


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus figures``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_operating_point_arguments(parser)
    parser.add_argument(
        "--single-frames",
        required=True,
        help="single_frames.csv of dynbus evaluate (the drawn frames)",
    )
    parser.add_argument("--detections", required=True, help="detections CSV of the split")
    parser.add_argument("--annotations", required=True, help="results/annotations.csv")
    parser.add_argument("--frames", required=True, help="results/frames")
    parser.add_argument("--out", required=True, help="figure file (.png)")
    parser.add_argument("--examples", type=int, default=4, help="number of frames shown")
    return parser


def frame_outcomes(dets: pd.DataFrame, anns: pd.DataFrame, hit_iou: float) -> list[tuple]:
    """``(kind, box)`` for each detection and each missed lesion of one frame."""
    lesions = sorted(anns["lesion_id"].unique())
    gt = anns.groupby("lesion_id")[BOX].first().reindex(lesions).to_numpy(float)
    boxes = dets[BOX].to_numpy(float)
    overlap = iou_matrix(boxes, gt) if len(lesions) else np.zeros((len(boxes), 0))
    outcome = greedy_match(dets["score"].to_numpy(float), overlap, hit_iou)
    kinds = {FALSE_POSITIVE: "FP", DUPLICATE: "duplicate"}
    items = [(kinds.get(int(o), "TP"), box) for o, box in zip(outcome, boxes, strict=True)]
    hit = set(outcome[outcome >= 0].tolist())
    items += [("FN", gt[k]) for k in range(len(lesions)) if k not in hit]
    return items


def choose(candidates: list[tuple[str, int, list[tuple]]], n: int) -> list[tuple]:
    """Up to ``n`` frames, first covering FP, FN and TP, then any (deterministic order)."""
    chosen: list[tuple] = []
    for kind in ("FP", "FN", "TP"):
        for item in candidates:
            if item not in chosen and any(k == kind for k, _ in item[2]) and len(chosen) < n:
                chosen.append(item)
                break
    chosen += [c for c in candidates if c not in chosen][: max(n - len(chosen), 0)]
    return chosen


def main(args: argparse.Namespace) -> None:
    """Draw ``examples.png`` into ``args.out``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    threshold = operating_threshold(args.counts, args.iou, args.fp_rate, "single")
    if not Path(args.single_frames).is_file():
        raise InputFileError(args.single_frames, "file not found (run dynbus evaluate first)")
    drawn = pd.read_csv(args.single_frames, dtype={"sequence_id": str})
    dets = read_table(args.detections, DETECTION_COLUMNS, ["frame", *BOX, "score"])
    anns = read_table(args.annotations, ANNOTATION_COLUMNS, ["frame", *BOX])
    dets = dets[dets["score"] >= threshold]
    candidates = []
    for seq, frame in drawn.sort_values("sequence_id").itertuples(index=False):
        d = dets[(dets["sequence_id"] == seq) & (dets["frame"] == frame)]
        d = d.sort_values("score", ascending=False, kind="stable")
        a = anns[(anns["sequence_id"] == seq) & (anns["frame"] == frame)]
        items = frame_outcomes(d, a, args.iou)
        if items:
            candidates.append((seq, int(frame), items))
    chosen = choose(candidates, args.examples)
    if not chosen:
        raise InputFileError(args.detections, "no frame with a detection or a lesion to show")
    fig = Figure(figsize=(3.2 * len(chosen), 3.4), dpi=120)
    for k, (seq, frame, items) in enumerate(chosen):
        image = load_frame(Path(args.frames) / seq / f"{frame:06d}.png")
        ax = fig.add_subplot(1, len(chosen), k + 1)
        ax.imshow(draw_items(image, items, width=2))
        ax.set_title(f"{seq} frame {frame}", fontsize=8)
        ax.axis("off")
    fig.legend(
        handles=[Patch(facecolor="none", edgecolor=STYLE[k], label=k) for k in KINDS],
        loc="lower center",
        ncol=len(KINDS),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        f"Single-frame detections at {args.fp_rate:g} FP/sequence "
        f"(threshold {threshold:.3f}, hit IoU ≥ {args.iou:g})",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, format="png")
