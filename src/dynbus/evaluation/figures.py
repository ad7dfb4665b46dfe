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

from dynbus.atomic import atomic_path
from dynbus.errors import InputFileError
from dynbus.evaluation.boxes import iou_matrix
from dynbus.evaluation.inputs import ANNOTATION_COLUMNS, BOX, DETECTION_COLUMNS, read_table
from dynbus.evaluation.matching import DUPLICATE, FALSE_POSITIVE, greedy_match

STYLE = {"TP": "#2ca02c", "FP": "#d62728", "FN": "#ffdd00", "duplicate": "#aaaaaa"}


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus figures``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", required=True, help="counts.csv of dynbus evaluate")
    parser.add_argument(
        "--single-frames",
        required=True,
        help="single_frames.csv of dynbus evaluate (the drawn frames)",
    )
    parser.add_argument("--detections", required=True, help="detections CSV of the split")
    parser.add_argument("--annotations", required=True, help="results/annotations.csv")
    parser.add_argument("--frames", required=True, help="results/frames")
    parser.add_argument("--out", required=True, help="figure file (.png)")
    parser.add_argument("--iou", type=float, default=0.2, help="hit IoU of the operating point")
    parser.add_argument("--fp-rate", type=float, default=0.2, help="FP per sequence of the point")
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
    from matplotlib.patches import Patch, Rectangle

    for path in (args.counts, args.single_frames):
        if not Path(path).is_file():
            raise InputFileError(path, "file not found (run dynbus evaluate first)")
    counts = pd.read_csv(args.counts)
    point = counts[
        ((counts["iou"] - args.iou).abs() < 1e-9)
        & ((counts["fp_rate"] - args.fp_rate).abs() < 1e-9)
        & (counts["method"] == "single")
    ]
    if point.empty:
        raise InputFileError(
            args.counts, f"no single row at IoU {args.iou:g}, FP rate {args.fp_rate:g}"
        )
    threshold = float(point["threshold"].iloc[0])
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
        path = Path(args.frames) / seq / f"{frame:06d}.png"
        if not path.is_file():
            raise InputFileError(path, "frame image not found")
        ax = fig.add_subplot(1, len(chosen), k + 1)
        ax.imshow(matplotlib.image.imread(path), cmap="gray")
        for kind, (x1, y1, x2, y2) in items:
            ax.add_patch(
                Rectangle(
                    (x1, y1),
                    x2 - x1,
                    y2 - y1,
                    fill=False,
                    linewidth=1.5,
                    edgecolor=STYLE[kind],
                    linestyle="--" if kind == "FN" else "-",
                )
            )
        ax.set_title(f"{seq} frame {frame}", fontsize=8)
        ax.axis("off")
    fig.legend(
        handles=[Patch(facecolor="none", edgecolor=c, label=k) for k, c in STYLE.items()],
        loc="lower center",
        ncol=len(STYLE),
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
