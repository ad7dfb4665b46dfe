"""Frame-level precision / recall as UltraDet computes it (mmdetection's ``eval_map``).

Matching, per frame: each detection, in descending score, looks at the ground-truth box it
overlaps most; IoU >= the threshold and that box not yet taken makes a TP, otherwise an FP
(also when that box is taken: mmdetection does not fall back to a second box). Frames without
a mass count: their detections are FPs. AP is the area under the precision envelope (VOC
2010+ "area" mode); precision at recall r and the score threshold reaching recall r are
``np.interp`` on the raw curves, as UltraDet does. All curve functions take ``(R, T)`` rows of
cumulative counts, so the same code serves the estimate (one row over every detection) and the
bootstrap (one row per resample over a threshold grid).
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float32).eps)  # mmdetection's guard against division by zero


def frame_ranks(frames: np.ndarray) -> np.ndarray:
    """Rank of each detection within its frame, given detections in descending score."""
    order = np.argsort(frames, kind="stable")
    sorted_frames = frames[order]
    starts = np.flatnonzero(np.r_[True, sorted_frames[1:] != sorted_frames[:-1]])
    sizes = np.diff(np.r_[starts, len(frames)])
    ranks = np.empty(len(frames), dtype=np.int64)
    ranks[order] = np.arange(len(frames)) - np.repeat(starts, sizes)
    return ranks


def match(frames: np.ndarray, overlap: np.ndarray, iou: float) -> np.ndarray:
    """TP flag of each detection of one sequence (detections in descending score).

    ``overlap`` is ``(D, L)``: each detection's IoU with each lesion's box in its frame (0 when
    the lesion has no box there), so the lesion is the ground-truth box of the frame.
    """
    tp = np.zeros(len(frames), dtype=bool)
    if overlap.shape[1] == 0 or len(frames) == 0:
        return tp
    best = overlap.argmax(axis=1)
    candidate = np.flatnonzero(overlap[np.arange(len(frames)), best] >= iou)
    key = frames[candidate] * overlap.shape[1] + best[candidate]
    _, first = np.unique(key, return_index=True)  # the highest-scoring claim of each box
    tp[candidate[first]] = True
    return tp


def recall_precision(tp: np.ndarray, fp: np.ndarray, n_gt: np.ndarray) -> tuple[np.ndarray, ...]:
    """Recall and precision of ``(R, T)`` cumulative TP / FP counts with ``(R,)`` box counts."""
    tp, fp = np.atleast_2d(tp).astype(float), np.atleast_2d(fp).astype(float)
    n_gt = np.asarray(n_gt, dtype=float).reshape(-1, 1)
    return tp / np.maximum(n_gt, EPS), tp / np.maximum(tp + fp, EPS)


def area_ap(recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Area under the precision envelope, per row (``sum (r_k - r_{k-1}) max_{j>=k} p_j``)."""
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    steps = np.diff(recall, axis=1, prepend=0.0)
    return (steps * envelope).sum(axis=1)


def at_recall(recall: np.ndarray, values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``np.interp(level, recall_row, values_row)`` per row and level; NaN where a row never
    reaches the level (UltraDet would extrapolate flat).

    Vectorized over the rows with ``np.interp``'s own arithmetic: the segment starts at the
    last point with recall <= level; a level on that point takes its value.
    """
    recall, values = np.atleast_2d(recall), np.atleast_2d(values)
    out = np.full((len(recall), len(levels)), np.nan)
    if recall.shape[1] == 0:
        return out
    last = recall.shape[1] - 1
    rows = np.arange(len(recall))
    for k, level in enumerate(levels):
        reached = level <= recall[:, -1]
        j = (recall <= level).sum(axis=1) - 1
        lo, hi = np.clip(j, 0, last), np.clip(j + 1, 0, last)
        x0, x1 = recall[rows, lo], recall[rows, hi]
        y0, y1 = values[rows, lo], values[rows, hi]
        inside = (j >= 0) & (j < last) & (x0 != level)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (y1 - y0) / (x1 - x0)
            between = slope * (level - x0) + y0
        out[:, k] = np.where(reached, np.where(inside, between, y0), np.nan)
    return out
