"""Video-level false positives as UltraDet counts them (``calculate_video_level_fp``).

At a score threshold t (boxes scoring > t), frame by frame, each box links to the box of the
previous ``HISTORY`` frames it overlaps most, if that IoU exceeds ``LINK_IOU`` (ties: the oldest
frame, then the higher score). The links form trees (chains); a chain is a false positive when
at most ``TP_RATIO`` of its boxes have their centre inside a ground-truth box.

``fp_chain_counts`` gives the count at many thresholds at once, without rebuilding the chains
per threshold: a box's link can only change when a better-overlapping box of its history
becomes active, so each box's link over the descending thresholds is a short list of records;
the link matrix (thresholds x boxes) is filled from them and the roots found by pointer
jumping.
"""

from __future__ import annotations

import numpy as np

from dynbus.protocol.boxes import linked_pairs, paired_iou

HISTORY = 5
LINK_IOU = 0.5
TP_RATIO = 0.9


def history_links(
    boxes: np.ndarray, frames: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(child, candidate, iou)`` for every box and every box 1..HISTORY frames before it with
    IoU > ``LINK_IOU`` (the shared pair search of ``boxes.linked_pairs``)."""
    i, j = linked_pairs(boxes, LINK_IOU, frames, HISTORY)
    keep = frames[i] != frames[j]
    i, j = i[keep], j[keep]
    later = frames[j] > frames[i]
    child, candidate = np.where(later, j, i), np.where(later, i, j)
    return child, candidate, paired_iou(boxes[child], boxes[candidate])


def fp_chain_counts(
    boxes: np.ndarray,
    frames: np.ndarray,
    scores: np.ndarray,
    covered: np.ndarray,
    thresholds: np.ndarray,
) -> np.ndarray:
    """Number of false-positive chains among the boxes scoring > t, for each t of ``thresholds``.

    ``covered`` flags the boxes whose centre is inside a ground-truth box of their frame.
    """
    thresholds = np.asarray(thresholds, dtype=float)
    result = np.zeros(len(thresholds), dtype=np.int64)
    n = len(scores)
    if n == 0 or len(thresholds) == 0:
        return result
    descending = np.argsort(-thresholds, kind="stable")
    levels = thresholds[descending]
    entry = np.searchsorted(-levels, -scores, side="right")  # first level with t < score
    steps = np.unique(entry[entry < len(levels)])  # levels where the active set changes
    if len(steps) == 0:
        return result
    parent = _link_matrix(boxes, frames, scores, entry, steps)
    root = np.where(parent < 0, np.arange(n), parent)
    while True:
        deeper = np.take_along_axis(root, root, axis=1)
        if np.array_equal(deeper, root):
            break
        root = deeper
    active = entry[None, :] <= steps[:, None]
    flat = (np.arange(len(steps))[:, None] * n + root)[active]
    size = np.bincount(flat, minlength=len(steps) * n)
    tp = np.bincount(
        flat, weights=np.broadcast_to(covered, active.shape)[active], minlength=len(steps) * n
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        false_chain = (size > 0) & ~(tp / size > TP_RATIO)
    per_step = false_chain.reshape(len(steps), n).sum(axis=1)
    at_level = np.searchsorted(steps, np.arange(len(levels)), side="right") - 1
    counts = np.where(at_level >= 0, per_step[np.maximum(at_level, 0)], 0)
    result[descending] = counts
    return result


def _link_matrix(
    boxes: np.ndarray,
    frames: np.ndarray,
    scores: np.ndarray,
    entry: np.ndarray,
    steps: np.ndarray,
) -> np.ndarray:
    """``(len(steps), n)``: each box's link at each step (-1: none), for every box."""
    n = len(scores)
    parent = np.full((len(steps), n), -1, dtype=np.int64)
    child, cand, iou = history_links(boxes, frames)
    if len(child) == 0:
        return parent
    # the child's preference among its candidates: IoU, then the oldest frame, then the score
    preference = np.lexsort((-scores[cand], frames[cand], -iou, child))
    rank = np.empty(len(child), dtype=np.int64)
    rank[preference] = np.arange(len(child))
    order = np.lexsort((rank, entry[cand], child))
    child, cand, rank = child[order], cand[order], rank[order]
    start = entry[cand]
    # a record is a candidate better than every one that became active before it (same child);
    # rank - child * big makes the running minimum restart at each child
    big = len(rank) + 1
    shifted = rank - child * big
    best_before = np.minimum.accumulate(np.r_[np.iinfo(np.int64).max, shifted[:-1]])
    new_child = np.r_[True, child[1:] != child[:-1]]
    record = new_child | (shifted < best_before)
    child, cand, start = child[record], cand[record], start[record]
    at = np.searchsorted(steps, start)
    valid = at < len(steps)
    marks = np.full((len(steps), n), -1, dtype=np.int64)
    marks[at[valid], child[valid]] = np.arange(len(child))[valid]  # later records win
    filled = np.maximum.accumulate(marks, axis=0)
    parent = np.where(filled >= 0, cand[np.maximum(filled, 0)], -1)
    return parent
