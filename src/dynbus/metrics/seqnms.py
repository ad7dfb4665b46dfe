"""Seq-NMS (Han et al. 2016, arXiv:1602.08465): rescoring along the highest-scoring temporal path.

Boxes of consecutive frames with IoU > ``LINK_IOU`` are linked. Repeatedly: find the path
through linked boxes (one per frame, consecutive frames) with the largest score sum (dynamic
programming over the frames); give its boxes the path's average (or maximum) score; remove
them and suppress the boxes of the same frames overlapping a path box with IoU > ``NMS_IOU``;
until the best path is a single box (as the published implementations stop). Each path is a
group, each remaining box a group of its own with its score; suppressed boxes leave the output.
"""

from __future__ import annotations

import numpy as np

from dynbus.protocol.boxes import linked_pairs

LINK_IOU = 0.5
NMS_IOU = 0.3


def seq_nms(
    boxes: np.ndarray, frames: np.ndarray, scores: np.ndarray, rescore: str = "avg"
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, path_scores)``: each box's path (-1: suppressed) and each path's new score."""
    n = len(scores)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels, np.zeros(0)
    i, j = linked_pairs(boxes, LINK_IOU, frames, 1)
    step = frames[j] - frames[i]
    src = np.where(step > 0, i, j)[step != 0]
    dst = np.where(step > 0, j, i)[step != 0]
    a, b = linked_pairs(boxes, NMS_IOU, frames, 0)
    targets, bounds = _neighbours(n, np.r_[a, b], np.r_[b, a])
    order = np.lexsort((src, frames[dst]))
    src, dst = src[order], dst[order]
    layers = np.unique(frames[dst])
    cuts = np.searchsorted(frames[dst], layers, side="left")
    ends = np.r_[cuts[1:], len(dst)]
    alive = np.ones(n, dtype=bool)
    best = scores.astype(float)
    back = np.full(n, -1, dtype=np.int64)
    changed = np.ones(n, dtype=bool)  # the first pass computes every box
    _relax(src, dst, layers, cuts, ends, 0, scores, alive, best, back, changed, -1)
    path_scores: list[float] = []
    while True:
        path = [int(np.argmax(best))]
        while back[path[-1]] >= 0:
            path.append(int(back[path[-1]]))
        if len(path) == 1:
            break
        members = np.array(path[::-1])
        labels[members] = len(path_scores)
        values = scores[members]
        path_scores.append(float(values.max() if rescore == "max" else values.mean()))
        near = [targets[bounds[m] : bounds[m + 1]] for m in members]
        removed = np.unique(np.concatenate([members, *near]))
        removed = removed[alive[removed]]
        alive[removed] = False
        best[removed], back[removed] = -np.inf, -1
        changed[removed] = True
        first = np.searchsorted(layers, frames[removed].min(), side="right")
        _relax(
            src,
            dst,
            layers,
            cuts,
            ends,
            first,
            scores,
            alive,
            best,
            back,
            changed,
            int(frames[removed].max()),
        )
    rest = np.flatnonzero(alive)
    labels[rest] = len(path_scores) + np.arange(len(rest))
    return labels, np.r_[path_scores, scores[rest]]


def _relax(
    src: np.ndarray,
    dst: np.ndarray,
    layers: np.ndarray,
    cuts: np.ndarray,
    ends: np.ndarray,
    first: int,
    scores: np.ndarray,
    alive: np.ndarray,
    best: np.ndarray,
    back: np.ndarray,
    changed: np.ndarray,
    last_removed: int,
) -> None:
    """Update the dynamic programme in place from layer ``first`` on (``layers``: each layer's
    frame; its links in ``cuts:ends``), after the boxes flagged ``changed`` changed or died:
    only boxes with a changed predecessor are recomputed (best alive predecessor, ties to the
    lowest index), and the pass stops at the first layer past ``last_removed`` (the last frame
    of a removed box) where nothing changed. ``changed`` is cleared on return."""
    touched = [np.flatnonzero(changed)]
    for layer in range(first, len(cuts)):
        s, d = src[cuts[layer] : ends[layer]], dst[cuts[layer] : ends[layer]]
        hit = changed[s]
        if not hit.any():
            if layers[layer] > last_removed:
                break
            continue
        redo = np.zeros(len(best), dtype=bool)
        redo[d[hit]] = True
        redo &= alive
        targets = np.flatnonzero(redo)
        ok = redo[d] & alive[s]
        s, d = s[ok], d[ok]
        old = best[targets].copy()
        best[targets], back[targets] = scores[targets], -1
        if len(s):
            pick = np.lexsort((-best[s], d))
            keep = np.r_[True, d[pick][1:] != d[pick][:-1]]
            s, d = s[pick][keep], d[pick][keep]
            best[d] = scores[d] + best[s]
            back[d] = s
        moved = targets[best[targets] != old]
        changed[moved] = True
        touched.append(moved)
    changed[np.concatenate(touched)] = False


def _neighbours(n: int, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjacency of the pairs ``(i, j)`` (CSR): box k's neighbours are
    ``targets[bounds[k]:bounds[k + 1]]``."""
    order = np.argsort(i, kind="stable")
    return j[order], np.searchsorted(i[order], np.arange(n + 1))
