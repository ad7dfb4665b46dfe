"""Evaluation protocol (DESIGN §2) on hand-built cases; the sweep against direct evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from dynbus.protocol.boxes import iou_matrix
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.matching import DUPLICATE, FALSE_POSITIVE, greedy_match
from dynbus.protocol.single_frame import draw_frame
from dynbus.protocol.sweep import (
    METHODS,
    SequenceData,
    curve,
    grid_scores,
    hits_at,
    operating_index,
    threshold_grid,
)

LESION = np.array([10.0, 10.0, 50.0, 50.0])
FUSION = FusionSettings()


def make_sequence(boxes, frames, scores, lesion_frames, drawn=0, lesions=(LESION,), sid="S1"):
    """A sequence whose lesions are annotated (same box) in ``lesion_frames``."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    frames, scores = np.asarray(frames), np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    boxes, frames, scores = boxes[order], frames[order], scores[order]
    overlap = np.zeros((len(scores), len(lesions)))
    for k, lesion in enumerate(lesions):
        visible = np.isin(frames, lesion_frames)
        overlap[visible, k] = iou_matrix(boxes[visible], lesion)[:, 0]
    return SequenceData(
        sid, "P1", boxes, frames, scores, overlap, [f"L{k}" for k in range(len(lesions))], drawn
    )


def test_duplicate_on_a_hit_lesion_is_neither_tp_nor_fp() -> None:
    outcome = greedy_match(np.array([0.9, 0.8, 0.7]), np.array([[0.9], [0.6], [0.0]]), 0.5)
    assert outcome.tolist() == [0, DUPLICATE, FALSE_POSITIVE]
    seq = make_sequence([LESION, LESION + 2], [0, 0], [0.9, 0.8], [0])
    for method in METHODS:
        hit, fp = hits_at(seq, method, FUSION, 0.0, 0.5)
        assert hit.tolist() == [True] and fp == 0


def test_each_detection_takes_the_unmatched_lesion_it_overlaps_most() -> None:
    overlap = np.array([[0.6, 0.9], [0.7, 0.8]])
    assert greedy_match(np.array([0.9, 0.5]), overlap, 0.5).tolist() == [1, 0]


def test_lesion_absent_from_the_drawn_frame_is_a_false_negative() -> None:
    # a perfect box in frame 1, but the lesion is annotated in frames 0 and 1 only and
    # the single-frame protocol drew frame 2 (pick: any)
    seq = make_sequence([LESION, LESION], [1, 2], [0.9, 0.8], [0, 1], drawn=2)
    hit, fp = hits_at(seq, "single", FUSION, 0.0, 0.2)
    assert hit.tolist() == [False] and fp == 1  # its box there hits no annotated lesion
    hit, fp = hits_at(seq, "multi", FUSION, 0.0, 0.2)
    assert hit.tolist() == [True] and fp == 0  # the group includes the frame-1 box


def test_negative_sequence_boxes_are_false_positives() -> None:
    seq = make_sequence([LESION, LESION + 100], [0, 0], [0.9, 0.8], [], lesions=())
    for method in METHODS:
        hit, fp = hits_at(seq, method, FUSION, 0.0, 0.2)
        assert len(hit) == 0 and fp == 2


def test_drawn_frame_is_seeded_and_annotated() -> None:
    draws = {draw_frame("S1", 100, {40, 41}, "annotated", seed) for seed in range(20)}
    assert draws == {40, 41}
    assert draw_frame("S1", 100, set(), "annotated", 3) == draw_frame("S1", 100, set(), "any", 3)
    assert len({draw_frame(f"S{k}", 100, set(), "any", 3) for k in range(30)}) > 10


def test_operating_point_is_best_sensitivity_with_fp_per_sequence_at_most_rate() -> None:
    # thresholds in descending order; 10 sequences, so rate 0.2 allows 2 FPs
    tp = np.array([0, 3, 5, 4, 7, 8])
    fp = np.array([0, 0, 1, 2, 3, 2])
    assert operating_index(tp, fp, 10, 0.2) == 5  # FP 2 <= 2, TP 8 beats 5 and 4
    assert operating_index(tp, fp, 10, 0.1) == 2  # FP <= 1
    assert operating_index(tp, fp, 10, 0.0) == 1
    assert operating_index(np.array([0, 2, 2]), np.array([0, 1, 0]), 10, 0.2) == 2  # fewer FPs


def random_sequence(rng: np.random.Generator, name: str) -> SequenceData:
    n_frames, n_lesions = int(rng.integers(1, 6)), int(rng.integers(0, 3))
    n = int(rng.integers(0, 40))
    xy = rng.uniform(0, 60, (max(n_lesions, 1), 2))
    lesions = np.c_[xy, xy + rng.uniform(8, 30, (max(n_lesions, 1), 2))][:n_lesions]
    if n_lesions:
        base = lesions[rng.integers(0, n_lesions, n)]
    else:
        base = np.tile([20.0, 20, 40, 40], (n, 1))
    boxes = base + rng.normal(0, 7, (n, 4))
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    frames, scores = rng.integers(0, n_frames, n), np.round(rng.uniform(0, 1, n), 1)
    seq = make_sequence(boxes, frames, scores, [], rng.integers(0, n_frames), tuple(lesions), name)
    annotated = rng.uniform(size=(n_frames, n_lesions)) < 0.7  # lesions missing in some frames
    seq.overlap *= annotated[seq.frames] if n else 1
    return seq


@pytest.mark.parametrize("order", ["threshold_then_group", "group_then_threshold"])
@pytest.mark.parametrize("score", ["max", "mean", "sum"])
def test_sweep_matches_direct_evaluation_at_every_threshold(order: str, score: str) -> None:
    rng = np.random.default_rng(len(order) * 7 + len(score))
    for _ in range(15):
        seqs = [random_sequence(rng, f"S{k}") for k in range(4)]
        link = str(rng.choice(["all", "window"]))
        fusion = FusionSettings(
            iou=float(rng.choice([0.1, 0.5])), score=score, order=order, link=link, window=1
        )
        for method in METHODS:
            grid = threshold_grid(grid_scores(seqs, method, fusion), int(rng.choice([4, 1000])))
            for hit_iou in (0.2, 0.5):
                swept = curve(seqs, method, fusion, grid, hit_iou)
                for s, seq in enumerate(seqs):
                    for t, threshold in enumerate(grid):
                        hit, fp = hits_at(seq, method, fusion, threshold, hit_iou)
                        assert (hit.sum(), fp) == (swept.tp[s, t], swept.fp[s, t])


def test_threshold_grid_is_all_distinct_scores_or_quantiles() -> None:
    scores = np.array([0.5, 0.1, 0.5, 0.9])
    assert threshold_grid(scores, 10).tolist() == [np.inf, 0.9, 0.5, 0.1]
    many = np.random.default_rng(0).uniform(size=5000)
    grid = threshold_grid(many, 100)
    assert len(grid) <= 101 and np.isin(grid[1:], many).all() and grid[-1] == many.min()
