"""Box geometry in numpy: IoU (continuous pixel coordinates, no ``+1``) and pruned pair search.

Boxes are ``(N, 4)`` arrays of ``x1, y1, x2, y2``. No torch here: evaluation runs in the light
stats environment.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 2_000_000  # candidate pairs checked per block (bounds memory)
_SMALL = 64  # below this many boxes, compare all pairs


def area(boxes: np.ndarray) -> np.ndarray:
    """Area of each box (0 for degenerate boxes)."""
    width = np.maximum(boxes[:, 2] - boxes[:, 0], 0)
    return width * np.maximum(boxes[:, 3] - boxes[:, 1], 0)


def paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[k]`` with ``b[k]`` for each row k (0 where the union is empty)."""
    inter = np.minimum(a[:, 2], b[:, 2])
    inter -= np.maximum(a[:, 0], b[:, 0])
    np.maximum(inter, 0, out=inter)
    height = np.minimum(a[:, 3], b[:, 3])
    height -= np.maximum(a[:, 1], b[:, 1])
    np.maximum(height, 0, out=height)
    inter *= height
    union = area(a) + area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` with every box of ``b``: an ``(len(a), len(b))`` array."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    ia = np.repeat(np.arange(len(a)), len(b))
    ib = np.tile(np.arange(len(b)), len(a))
    return paired_iou(a[ia], b[ib]).reshape(len(a), len(b))


def _reach(size: np.ndarray, iou: float) -> np.ndarray:
    """Bound on the centre distance along one axis for IoU > ``iou`` (given one box's side).

    For intervals, IoU_1d > t implies |d1| + |d2| < min(side)(1 - t) / t, so the centre distance
    is below ``side (1 - t) / 2t``; any overlap at all needs it below ``(side + max side) / 2``.
    The box IoU never exceeds either axis' 1-D IoU, so both bounds hold for boxes.
    """
    overlap = (size + size.max(initial=0.0)) / 2
    reach = overlap if iou <= 0 else np.minimum(size * (1 - iou) / (2 * iou), overlap)
    return reach * (1 + 1e-9) + 1e-9  # slack: the sorted keys below are rounded sums


def linked_pairs(
    boxes: np.ndarray, iou: float, frames: np.ndarray | None = None, window: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs ``i < j`` with IoU > ``iou`` (and ``|frame_i - frame_j| <= window``).

    No all-pairs comparison: boxes are bucketed into horizontal strips and sorted by centre x;
    each box is compared only with boxes of the strips within its vertical reach whose centres
    lie within its horizontal reach (see ``_reach``), then the exact IoU decides.
    """
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    n = len(boxes)
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty
    if n <= _SMALL:
        i, j = np.triu_indices(n, 1)
        keep = paired_iou(boxes[i], boxes[j]) > iou
        if frames is not None and window is not None:
            keep &= np.abs(np.asarray(frames)[i] - np.asarray(frames)[j]) <= window
        return i[keep], j[keep]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    reach_x = _reach(boxes[:, 2] - boxes[:, 0], iou)
    reach_y = _reach(boxes[:, 3] - boxes[:, 1], iou)
    # strips about as tall as a typical reach, but never more than 16 strips per reach
    strip_height = max(float(np.median(reach_y)), float(reach_y.max()) / 16, 1e-9)
    strip = np.floor((cy - cy.min()) / strip_height).astype(np.int64)
    span = float(cx.max() - cx.min() + 2 * reach_x.max() + 1)
    key = strip * span + (cx - cx.min())
    order = np.argsort(key, kind="stable")
    key, cy, reach_x, reach_y = key[order], cy[order], reach_x[order], reach_y[order]
    packed = boxes[order]
    frame = None if frames is None or window is None else np.asarray(frames)[order]
    rank = np.arange(n)
    # strip offset 0: sorted successors within reach; offset d: a window around the same x
    sources = [rank]
    starts = [rank + 1]
    stops = [np.maximum(np.searchsorted(key, key + reach_x, side="left"), rank + 1)]
    for d in range(1, int(np.ceil(reach_y.max() / strip_height)) + 2):
        near = rank[(d - 1) * strip_height < reach_y]
        lo = np.searchsorted(key, key[near] + d * span - reach_x[near], side="right")
        hi = np.searchsorted(key, key[near] + d * span + reach_x[near], side="left")
        sources.append(near)
        starts.append(lo)
        stops.append(np.maximum(hi, lo))
    # coarse test in float32 with a margin, exact float64 IoU on the few survivors
    coarse = packed.astype(np.float32)
    cy, reach_y = cy.astype(np.float32), reach_y.astype(np.float32)
    found_i, found_j = [empty], [empty]
    sources, starts, stops = (np.concatenate(part) for part in (sources, starts, stops))
    for first, second in _candidate_blocks(sources, starts, stops):
        keep = np.abs(cy[first] - cy[second]) < reach_y[first]
        if frame is not None:
            keep &= np.abs(frame[first] - frame[second]) <= window
        first, second = first[keep], second[keep]
        keep = paired_iou(coarse[first], coarse[second]) > iou - 1e-4
        first, second = first[keep], second[keep]
        keep = paired_iou(packed[first], packed[second]) > iou
        found_i.append(order[first[keep]])
        found_j.append(order[second[keep]])
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    return np.minimum(i, j), np.maximum(i, j)


def _candidate_blocks(sources: np.ndarray, starts: np.ndarray, stops: np.ndarray):
    """Yield ``(first, second)`` index arrays covering ``second in [start, stop)`` per source."""
    counts = stops - starts
    nonzero = counts > 0
    sources, starts, counts = sources[nonzero], starts[nonzero], counts[nonzero]
    ends = np.cumsum(counts)
    begin = 0
    while begin < len(counts):
        base = ends[begin - 1] if begin else 0
        end = max(int(np.searchsorted(ends, base + _CHUNK, side="right")), begin + 1)
        block = counts[begin:end]
        offsets = np.cumsum(block) - block
        first = np.repeat(sources[begin:end], block)
        second = np.repeat(starts[begin:end] - offsets, block) + np.arange(int(block.sum()))
        yield first, second
        begin = end
