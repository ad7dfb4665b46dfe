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

from dynbus.evaluation.boxes import linked_pairs

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
    near = _neighbours(n, np.r_[a, b], np.r_[b, a])
    order = np.lexsort((src, frames[dst]))
    src, dst = src[order], dst[order]
    layers = np.unique(frames[dst])
    cuts = np.searchsorted(frames[dst], layers, side="left")
    ends = np.r_[cuts[1:], len(dst)]
    alive = np.ones(n, dtype=bool)
    path_scores: list[float] = []
    while True:
        best = np.where(alive, scores, -np.inf)
        back = np.full(n, -1, dtype=np.int64)
        for start, end in zip(cuts, ends, strict=True):
            s, d = src[start:end], dst[start:end]
            ok = alive[s] & alive[d]
            s, d = s[ok], d[ok]
            if len(s) == 0:
                continue
            pick = np.lexsort((-best[s], d))
            first = np.r_[True, d[pick][1:] != d[pick][:-1]]
            s, d = s[pick][first], d[pick][first]
            best[d] = scores[d] + best[s]
            back[d] = s
        path = [int(np.argmax(best))]
        while back[path[-1]] >= 0:
            path.append(int(back[path[-1]]))
        if len(path) == 1:
            break
        members = np.array(path[::-1])
        labels[members] = len(path_scores)
        values = scores[members]
        path_scores.append(float(values.max() if rescore == "max" else values.mean()))
        alive[members] = False
        alive[np.concatenate([near[m] for m in members])] = False
    rest = np.flatnonzero(alive)
    labels[rest] = len(path_scores) + np.arange(len(rest))
    return labels, np.r_[path_scores, scores[rest]]


def _neighbours(n: int, i: np.ndarray, j: np.ndarray) -> list[np.ndarray]:
    """Adjacency lists of the pairs ``(i, j)``."""
    order = np.argsort(i, kind="stable")
    bounds = np.searchsorted(i[order], np.arange(n + 1))
    return [j[order][bounds[k]:bounds[k + 1]] for k in range(n)]
