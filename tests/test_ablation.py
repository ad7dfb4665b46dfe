"""Fusion ablation: Seq-NMS and tracking on hand-built sequences, and the CLI end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynbus.metrics.seqnms import LINK_IOU, NMS_IOU, seq_nms
from dynbus.metrics.tracking import track_labels
from dynbus.protocol.boxes import iou_matrix
from tests import in_process
from tests.test_video_metrics import FAR, MASS, write_study

ROOT = Path(__file__).resolve().parents[1]


def test_seq_nms_rescores_the_best_path_and_suppresses_its_neighbours() -> None:
    # frames 0-2: the mass (0.9, 0.1, 0.8); frame 1 also a box overlapping the path box with
    # IoU 0.6 (suppressed after the path is taken); frame 2 a far box (left alone)
    near = (10, 10, 30, 22.5)  # inside MASS: IoU = 12.5 * 20 / 400 = 0.625
    boxes = np.array([MASS, MASS, near, MASS, FAR], dtype=float)
    frames = np.array([0, 1, 1, 2, 2])
    scores = np.array([0.9, 0.1, 0.7, 0.8, 0.3])
    labels, path_scores = seq_nms(boxes, frames, scores)
    # the near box links both ways (IoU 0.625 > 0.5): the best path is 0 -> 2 -> 3 (sum 2.4,
    # average 0.8); it suppresses box 1; the far box is then a one-box path: the loop stops
    assert labels.tolist() == [0, -1, 0, 0, 1]
    assert path_scores.tolist() == pytest.approx([0.8, 0.3])


def literal_seq_nms(boxes: np.ndarray, frames: np.ndarray, scores: np.ndarray) -> tuple:
    """Seq-NMS as published: the whole dynamic programme again on every pass, box by box."""
    n, iou = len(scores), iou_matrix(boxes, boxes)
    alive, labels, path_scores = np.ones(n, bool), np.full(n, -1), []
    while True:
        best, back = np.where(alive, scores, -np.inf), np.full(n, -1)
        for d in np.argsort(frames, kind="stable"):
            preds = [
                s
                for s in range(n)
                if alive[s] and alive[d] and frames[s] == frames[d] - 1 and iou[s, d] > LINK_IOU
            ]
            if preds:
                back[d] = max(preds, key=lambda s: (best[s], -s))
                best[d] = scores[d] + best[back[d]]
        path = [int(np.argmax(best))]
        while back[path[-1]] >= 0:
            path.append(int(back[path[-1]]))
        if len(path) == 1:
            break
        labels[path] = len(path_scores)
        path_scores.append(scores[path[::-1]].mean())  # summed from the first frame
        for m in path:
            alive[(frames == frames[m]) & (iou[m] > NMS_IOU)] = False
        alive[path] = False
    rest = np.flatnonzero(alive)
    labels[rest] = len(path_scores) + np.arange(len(rest))
    return labels, np.r_[path_scores, scores[rest]]


def test_seq_nms_agrees_with_the_literal_algorithm_on_random_tracks() -> None:
    rng = np.random.default_rng(5)
    for trial in range(40):
        n = int(rng.integers(1, 40))
        frames = rng.integers(0, 8, n)
        centres = rng.uniform(0, 100, (int(rng.integers(1, 4)), 2))
        centre = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 1 + trial % 4, (n, 2))
        boxes = np.c_[centre - 10, centre + 10]
        scores = np.round(rng.uniform(size=n), 1 if trial % 2 else 6)  # ties as well
        order = np.argsort(-scores, kind="stable")
        boxes, frames, scores = boxes[order], frames[order], scores[order]
        labels, path_scores = seq_nms(boxes, frames, scores)
        expected = literal_seq_nms(boxes, frames, scores)
        assert labels.tolist() == expected[0].tolist()
        assert path_scores == pytest.approx(expected[1], abs=0)


def test_tracking_follows_a_moving_mass_and_leaves_a_flicker_alone() -> None:
    boxes = np.array([(10 + 2 * f, 10, 30 + 2 * f, 30) for f in range(6)] + [FAR], dtype=float)
    frames = np.r_[np.arange(6), 3]
    scores = np.r_[np.full(6, 0.9), 0.2]
    labels = track_labels(boxes, frames, scores, fps=30.0)
    assert len(set(labels[:6].tolist())) == 1
    assert labels[6] != labels[0]


def test_ablation_cli_writes_every_variant_against_the_reference(tmp_path: Path) -> None:
    dets, anns = [], []
    for s in ("A", "B", "C"):
        for f in range(6):
            anns.append((s, f, "m", *MASS))
            dets.append((s, f, *MASS, 0.5 + 0.05 * f))
            dets.append((s, f, *FAR, 0.3 + 0.1 * (f % 2)))
    paths = write_study(tmp_path, dets, anns, {"A": 6, "B": 6, "C": 6})
    out = tmp_path / "out"
    result = in_process.dynbus(
        "ablation",
        "--detections",
        str(paths[0]),
        "--annotations",
        str(paths[1]),
        "--manifest",
        str(paths[2]),
        "--frames",
        str(paths[3]),
        "--out",
        str(out / "ablation.csv"),
        "--video-out",
        str(out / "ablation_video.csv"),
        "--table",
        str(out / "tables" / "ablation"),
        "--config",
        '{"evaluate": {"bootstrap": 20}}',
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    sens = pd.read_csv(out / "ablation.csv")
    assert sens["fusion"].iloc[0] == "threshold_then_group/max/all"
    assert len(sens["fusion"].unique()) == 14
    assert sens.groupby("fusion").size().eq(6).all()  # 2 hit IoUs x 3 FP rates
    reference = sens[sens["fusion"] == "threshold_then_group/max/all"]
    assert (reference["mcnemar_p"] == 1.0).all()
    # every mass is one group at any threshold: found at every operating point
    assert (reference["sensitivity"] == 1.0).all()
    table = (out / "tables" / "ablation.md").read_text(encoding="utf-8")
    assert "seqnms" in table and "tracking" in table and "@" in table
