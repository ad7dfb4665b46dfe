"""Threshold sweep of both protocols: per-sequence TP / FP at every threshold, operating points.

Two implementations of one protocol: ``hits_at`` evaluates one threshold directly (the
reference, also used for per-lesion hits), ``curve`` sweeps all thresholds at once. The sweep
uses the fact that greedy matching in descending score sees a prefix of the same detections
at every threshold (single frame, ``group_then_threshold``); with ``threshold_then_group`` it
replays the box insertions and the merges of a minimum spanning forest of the links in
descending threshold, with a union-find, instead of regrouping from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynbus.protocol.fusion import FusionSettings, group, group_score, links, merge_forest
from dynbus.protocol.matching import FALSE_POSITIVE, greedy_match

METHODS = ("single", "multi")


@dataclass
class SequenceData:
    """One evaluated sequence: its detections (descending score) and its lesions."""

    sequence_id: str
    patient_id: str
    boxes: np.ndarray  # (D, 4), sorted by descending score (stable)
    frames: np.ndarray  # (D,)
    scores: np.ndarray  # (D,)
    overlap: np.ndarray  # (D, L): IoU with each lesion's box in the same frame, 0 if none
    lesion_ids: list[str]
    drawn_frame: int  # the single-frame protocol's frame


@dataclass
class Curve:
    """Per-sequence counts over a descending threshold grid (``thresholds[0]`` is +inf)."""

    thresholds: np.ndarray  # (T,)
    tp: np.ndarray  # (S, T)
    fp: np.ndarray  # (S, T)


def detections(
    seq: SequenceData, method: str, fusion: FusionSettings, threshold: float = -np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """A sequence's detections at ``threshold``: ``(scores, overlap)``, in a canonical order."""
    if method == "single":
        keep = (seq.frames == seq.drawn_frame) & (seq.scores >= threshold)
        return seq.scores[keep], seq.overlap[keep]
    _, _, scores, overlap = fused_groups(seq, fusion, threshold)
    return scores, overlap


def fused_groups(
    seq: SequenceData, fusion: FusionSettings, threshold: float = -np.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The multi-frame groups at ``threshold``: ``(members, labels, scores, overlap)``.

    ``members`` indexes the sequence's boxes kept, ``labels`` gives each one's group
    (``0..G-1``, numbered by first member); ``scores`` and ``overlap`` (best IoU with each
    lesion) are the groups'. ``fusion.order`` says whether ``threshold`` acts on box scores
    before grouping or on group scores after.
    """
    if fusion.order == "threshold_then_group":
        members = np.flatnonzero(seq.scores >= threshold)
        labels, scores = group(seq.boxes[members], seq.frames[members], seq.scores[members], fusion)
        return members, labels, scores, _group_overlap(labels, seq.overlap[members], len(scores))
    labels, scores = group(seq.boxes, seq.frames, seq.scores, fusion)
    overlap = _group_overlap(labels, seq.overlap, len(scores))
    kept = scores >= threshold
    members = np.flatnonzero(kept[labels])
    renumber = np.cumsum(kept) - 1
    return members, renumber[labels[members]], scores[kept], overlap[kept]


def _group_overlap(labels: np.ndarray, overlap: np.ndarray, n_groups: int) -> np.ndarray:
    best = np.zeros((n_groups, overlap.shape[1]))
    np.maximum.at(best, labels, overlap)
    return best


def hits_at(
    seq: SequenceData, method: str, fusion: FusionSettings, threshold: float, hit_iou: float
) -> tuple[np.ndarray, int]:
    """Direct evaluation at one threshold: ``(hit flag per lesion, number of FPs)``."""
    scores, overlap = detections(seq, method, fusion, threshold)
    outcome = greedy_match(scores, overlap, hit_iou)
    hit = np.zeros(len(seq.lesion_ids), dtype=bool)
    hit[outcome[outcome >= 0]] = True
    return hit, int(np.count_nonzero(outcome == FALSE_POSITIVE))


def threshold_grid(scores: np.ndarray, max_thresholds: int) -> np.ndarray:
    """+inf, then all distinct scores descending, or ``max_thresholds`` quantiles of them."""
    distinct = np.unique(scores)
    if len(distinct) > max_thresholds:
        levels = np.linspace(0, 1, max_thresholds)
        distinct = np.unique(np.quantile(distinct, levels, method="inverted_cdf"))
    return np.concatenate([[np.inf], distinct[::-1]])


def grid_scores(seqs: list[SequenceData], method: str, fusion: FusionSettings) -> np.ndarray:
    """The scores a method's threshold acts on (box scores, or group scores)."""
    if method == "single":
        parts = [s.scores[s.frames == s.drawn_frame] for s in seqs]
    elif fusion.order == "threshold_then_group":
        parts = [s.scores for s in seqs]
    else:
        parts = [detections(s, method, fusion)[0] for s in seqs]
    return np.concatenate(parts) if parts else np.zeros(0)


def _entry(grid: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """First grid index whose threshold admits each score (grid descending)."""
    return np.searchsorted(-grid, -np.asarray(scores, dtype=float), side="left")


def curve(
    seqs: list[SequenceData],
    method: str,
    fusion: FusionSettings,
    grid: np.ndarray,
    hit_iou: float,
) -> Curve:
    """TP and FP of every sequence at every threshold of ``grid``."""
    tp = np.zeros((len(seqs), len(grid)), dtype=np.int64)
    fp = np.zeros_like(tp)
    for row, seq in enumerate(seqs):
        if method == "multi" and fusion.order == "threshold_then_group":
            tp[row], fp[row] = _replay(seq, fusion, grid, hit_iou)
            continue
        tp[row], fp[row] = tally(*detections(seq, method, fusion), grid, hit_iou)
    return Curve(grid, tp, fp)


def tally(
    scores: np.ndarray, overlap: np.ndarray, grid: np.ndarray, hit_iou: float
) -> tuple[np.ndarray, np.ndarray]:
    """TP and FP of fixed-score detections (boxes or groups) at every threshold of ``grid``."""
    outcome = greedy_match(scores, overlap, hit_iou)
    entry = _entry(grid, scores)
    tp = np.zeros(len(grid), dtype=np.int64)
    fp = np.zeros_like(tp)
    np.add.at(tp, entry[outcome >= 0], 1)
    np.add.at(fp, entry[outcome == FALSE_POSITIVE], 1)
    return np.cumsum(tp), np.cumsum(fp)


def _replay(
    seq: SequenceData, fusion: FusionSettings, grid: np.ndarray, hit_iou: float
) -> tuple[np.ndarray, np.ndarray]:
    """``threshold_then_group`` sweep of one sequence with a union-find (see module doc)."""
    n = len(seq.scores)
    tp = np.full(len(grid), -1, dtype=np.int64)
    fp = np.full(len(grid), -1, dtype=np.int64)
    tp[0] = fp[0] = 0
    if n == 0:
        return np.zeros(len(grid), np.int64), np.zeros(len(grid), np.int64)
    entry = _entry(grid, seq.scores)
    i, j = links(seq.boxes, seq.frames, fusion)
    fi, fj, _ = merge_forest(n, i, j, np.maximum(i, j) + 1)  # boxes are in descending score
    edge_entry = np.maximum(entry[fi], entry[fj])
    parent = list(range(n))
    first = list(range(n))
    best = seq.overlap.copy()
    members: list[list[int]] = [[k] for k in range(n)]
    hit_roots: set[int] = set()
    cached: dict[int, float] = {}
    misses = matched = 0
    box_hits = (best >= hit_iou).any(axis=1)

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    box_at = np.split(np.arange(n), np.flatnonzero(np.diff(entry)) + 1)
    edges_at = np.split(np.arange(len(fi)), np.flatnonzero(np.diff(edge_entry)) + 1)
    box_groups = {int(entry[b[0]]): b for b in box_at if len(b)}
    edge_groups = {int(edge_entry[e[0]]): e for e in edges_at if len(e)}
    for step in sorted(set(box_groups) | set(edge_groups)):
        dirty = False
        for k in box_groups.get(step, ()):
            if box_hits[k]:
                hit_roots.add(int(k))
                dirty = True
            else:
                misses += 1
        for e in edge_groups.get(step, ()):
            a, b = find(int(fi[e])), find(int(fj[e]))
            if len(members[a]) < len(members[b]):
                a, b = b, a
            was_hit = (a in hit_roots) + (b in hit_roots)
            misses -= 2 - was_hit
            dirty = dirty or was_hit > 0
            hit_roots.discard(a)
            hit_roots.discard(b)
            cached.pop(a, None)
            cached.pop(b, None)
            parent[b] = a
            first[a] = min(first[a], first[b])
            members[a].extend(members[b])
            members[b] = []
            np.maximum(best[a], best[b], out=best[a])
            if best[a].max(initial=0.0) >= hit_iou:
                hit_roots.add(a)
            else:
                misses += 1
        if dirty:
            matched = _matched(
                hit_roots, first, members, cached, best, seq.scores, fusion.score, hit_iou
            )
        tp[step] = matched
        fp[step] = misses
    filled = np.maximum.accumulate(np.where(tp >= 0, np.arange(len(grid)), 0))
    return tp[filled], fp[filled]


def _matched(
    hit_roots: set[int],
    first: list[int],
    members: list[list[int]],
    cached: dict[int, float],
    best: np.ndarray,
    scores: np.ndarray,
    how: str,
    hit_iou: float,
) -> int:
    """TP count of the current groups: greedy matching of the groups that touch a lesion."""
    if len(hit_roots) <= 1:
        return len(hit_roots)
    roots = sorted(hit_roots, key=first.__getitem__)
    for r in roots:
        if r not in cached:
            cached[r] = group_score(scores[members[r]].tolist(), how)
    outcome = greedy_match(np.array([cached[r] for r in roots]), best[roots], hit_iou)
    return int(np.count_nonzero(outcome >= 0))


@dataclass(frozen=True)
class OperatingPoint:
    """The point of a FROC curve reported at one FP rate."""

    index: int
    threshold: float
    tp: int
    fn: int
    fp: int
    sensitivity: float


def operating_index(tp: np.ndarray, fp: np.ndarray, n_sequences: int, rate: float) -> int:
    """Index of the highest TP among thresholds with FP per sequence <= ``rate``.

    Ties go to fewer FPs, then to the higher threshold (lower index). ``tp``/``fp`` are totals
    over sequences at each threshold; index 0 (+inf, no detections) always qualifies.
    """
    allowed = fp <= rate * n_sequences + 1e-9
    candidates = np.flatnonzero(allowed)
    best = np.lexsort((candidates, fp[candidates], -tp[candidates]))[0]
    return int(candidates[best])


def operating_point(c: Curve, n_lesions: int, rate: float) -> OperatingPoint:
    """The reported point of curve ``c`` at ``rate`` FP per sequence."""
    tp, fp = c.tp.sum(axis=0), c.fp.sum(axis=0)
    k = operating_index(tp, fp, c.tp.shape[0], rate)
    sens = tp[k] / n_lesions if n_lesions else float("nan")
    return OperatingPoint(
        k, float(c.thresholds[k]), int(tp[k]), int(n_lesions - tp[k]), int(fp[k]), float(sens)
    )
