"""Fused lesion candidates of new sequences and their decisions at the frozen operating points.

A candidate is one multi-frame group (``dynbus.protocol.sweep.fused_groups`` with the package's
``fusion`` settings) of all of a sequence's boxes. Its decision at a frozen operating point:

- ``multi@<rate>``: the multi-frame protocol at that threshold keeps a group made of its boxes
  (with ``threshold_then_group`` raising the threshold only drops boxes and splits groups, so
  each group kept lies inside one candidate);
- ``single@<rate>``: one of its boxes reaches the single-frame threshold (the frame-level
  detector would flag it on at least one frame).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dynbus.model.package import OperatingPoint
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.inputs import BOX, in_evaluation_order
from dynbus.protocol.sweep import SequenceData, fused_groups

CANDIDATE_COLUMNS = [
    "sequence_id",
    "candidate",
    "first_frame",
    "last_frame",
    "n_frames",
    "n_boxes",
    "score",
]
BOX_COLUMNS = ["sequence_id", "candidate", "frame", *BOX, "score"]
SUMMARY_COLUMNS = ["sequence_id", "n_frames", "candidates", "best_score"]


def decision_column(point: OperatingPoint) -> str:
    """A decision column's name, e.g. ``multi@0.1``."""
    return f"{point.method}@{point.fp_rate:g}"


def sequence_data(sequence_id: str, detections: pd.DataFrame) -> SequenceData:
    """One sequence's detections in the evaluation's order (descending score, then frame, box)."""
    part = in_evaluation_order(detections)
    return SequenceData(
        sequence_id=sequence_id,
        patient_id="",
        boxes=part[BOX].to_numpy(float),
        frames=part["frame"].to_numpy(np.int64),
        scores=part["score"].to_numpy(float),
        overlap=np.zeros((len(part), 0)),
        lesion_ids=[],
        drawn_frame=0,
    )


def decisions(
    seq: SequenceData,
    labels: np.ndarray,
    n_groups: int,
    fusion: FusionSettings,
    point: OperatingPoint,
) -> np.ndarray:
    """Per candidate: positive at ``point`` (see the module doc)."""
    positive = np.zeros(n_groups, dtype=bool)
    if point.method == "multi":
        kept, _, _, _ = fused_groups(seq, fusion, point.threshold)
        positive[labels[kept]] = True
    else:
        np.logical_or.at(positive, labels, seq.scores >= point.threshold)
    return positive


def sequence_candidates(
    seq: SequenceData, fusion: FusionSettings, points: tuple[OperatingPoint, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(candidates, best box per frame of each candidate)`` of one sequence.

    Candidates are numbered from 1 by their best box (the highest-scoring box is in candidate 1).
    """
    _, labels, scores, _ = fused_groups(seq, fusion)  # at -inf: every box, in order
    rows, boxes = [], []
    for group, score in enumerate(scores):
        index = np.flatnonzero(labels == group)  # descending score: a frame's best comes first
        frames = seq.frames[index]
        rows.append(
            [seq.sequence_id, group + 1, int(frames.min()), int(frames.max()),
             len(np.unique(frames)), len(index), round(float(score), 6)]
        )  # fmt: skip
        _, first = np.unique(frames, return_index=True)
        for i in index[first]:
            boxes.append([seq.sequence_id, group + 1, int(seq.frames[i]), *seq.boxes[i],
                          seq.scores[i]])  # fmt: skip
    table = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    for point in points:
        table[decision_column(point)] = decisions(seq, labels, len(scores), fusion, point)
    return table, pd.DataFrame(boxes, columns=BOX_COLUMNS)


def summary_row(
    sequence_id: str, n_frames: int, candidates: pd.DataFrame, points: tuple[OperatingPoint, ...]
) -> dict[str, object]:
    """One sequence's summary: frames, candidates, best score, positive at each point."""
    row: dict[str, object] = {
        "sequence_id": sequence_id,
        "n_frames": n_frames,
        "candidates": len(candidates),
        "best_score": float(candidates["score"].max()) if len(candidates) else np.nan,
    }
    for point in points:
        name = decision_column(point)
        row[name] = bool(candidates[name].any()) if len(candidates) else False
    return row
