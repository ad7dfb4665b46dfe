"""Fusion: pruned pair search equals brute force; grouping follows DESIGN §2."""

from __future__ import annotations

import numpy as np
import pytest

from dynbus.protocol.boxes import iou_matrix, linked_pairs, paired_iou
from dynbus.protocol.fusion import FusionSettings, group, merge_forest


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(2, 60, (n, 2)) * rng.choice([1.0, 0.2], (n, 1))
    return np.c_[xy, xy + wh]


def test_iou_continuous_coordinates_without_plus_one() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0]])
    assert paired_iou(a, b)[0] == pytest.approx(50 / 150)
    assert iou_matrix(a, np.array([[20.0, 20, 30, 30]]))[0, 0] == 0


@pytest.mark.parametrize("n", [0, 1, 30, 200, 700])
def test_linked_pairs_equal_brute_force(n: int) -> None:
    rng = np.random.default_rng(n)
    for threshold in (0.0, 0.3, 0.5, 0.8):
        boxes = random_boxes(rng, n)
        frames = rng.integers(0, 20, n)
        for window in (None, 2):
            i, j = linked_pairs(boxes, threshold, frames, window)
            expected = np.triu(iou_matrix(boxes, boxes) > threshold, 1)
            if window is not None:
                expected &= np.abs(frames[:, None] - frames[None, :]) <= window
            assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(
                zip(*np.nonzero(expected), strict=True)
            )


def test_two_chains_that_never_overlap_stay_two_groups() -> None:
    # two lesions drifting right, 100 px apart: consecutive boxes overlap, the chains never do
    frames = np.repeat(np.arange(10), 2)
    x = np.repeat(np.arange(10) * 3.0, 2)
    boxes = np.c_[x, np.tile([0.0, 100.0], 10), x + 20, np.tile([20.0, 120.0], 10)]
    scores = np.linspace(0.9, 0.1, 20)
    labels, group_scores = group(boxes, frames, scores, FusionSettings(iou=0.5))
    assert len(group_scores) == 2
    assert len(set(labels[0::2])) == 1 and len(set(labels[1::2])) == 1
    assert labels[0] != labels[1]


def test_chain_links_transitively_and_window_cuts_it() -> None:
    # box k overlaps k+1 (IoU 0.6) but not k+2: all one group, unless frames are too far apart
    x = np.arange(6) * 5.0
    boxes = np.c_[x, np.zeros(6), x + 20, np.full(6, 20.0)]
    scores = np.array([0.9, 0.2, 0.3, 0.4, 0.5, 0.6])
    labels, values = group(boxes, np.arange(6) * 3, scores, FusionSettings(iou=0.5))
    assert len(values) == 1 and values[0] == 0.9
    window = FusionSettings(iou=0.5, link="window", window=2)
    labels, values = group(boxes, np.arange(6) * 3, scores, window)
    assert len(values) == 6


@pytest.mark.parametrize(("how", "expected"), [("max", 0.9), ("mean", 0.6), ("sum", 1.8)])
def test_group_score(how: str, expected: float) -> None:
    boxes = np.array([[0.0, 0, 10, 10], [0.5, 0, 10.5, 10], [1.0, 0, 11, 10]])
    _, values = group(boxes, np.arange(3), np.array([0.9, 0.5, 0.4]), FusionSettings(score=how))
    assert values == pytest.approx([expected])


def test_merge_forest_keeps_components_at_every_time() -> None:
    rng = np.random.default_rng(3)
    n = 40
    i, j = np.triu_indices(n, 1)
    keep = rng.uniform(size=len(i)) < 0.08
    i, j = i[keep], j[keep]
    time = np.maximum(i, j) + 1
    fi, fj, ft = merge_forest(n, i, j, time)
    assert len(fi) < n

    def components(a: np.ndarray, b: np.ndarray) -> set[frozenset[int]]:
        parent = list(range(n))

        def find(k: int) -> int:
            while parent[k] != k:
                k = parent[k]
            return k

        for u, v in zip(a.tolist(), b.tolist(), strict=True):
            parent[find(u)] = find(v)
        groups: dict[int, set[int]] = {}
        for k in range(n):
            groups.setdefault(find(k), set()).add(k)
        return {frozenset(g) for g in groups.values()}

    for t in range(1, n + 1):
        assert components(i[time <= t], j[time <= t]) == components(fi[ft <= t], fj[ft <= t])
