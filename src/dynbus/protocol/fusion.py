"""Decision-level multi-frame fusion: link boxes across frames, group, score the groups.

Every pair of boxes (any frames, or with ``link: window`` at most ``window`` frames apart)
whose IoU exceeds ``fusion.iou`` is linked; groups are the connected components; a group's
score is the ``max``, ``mean`` or ``sum`` of its members' scores (DESIGN §2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from dynbus.protocol.boxes import linked_pairs


@dataclass(frozen=True)
class FusionSettings:
    """The ``fusion`` section of the study configuration."""

    iou: float = 0.5
    score: str = "max"
    order: str = "threshold_then_group"
    link: str = "all"
    window: int = 5

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> FusionSettings:
        """Build from a validated ``fusion`` config section."""
        return cls(**{key: section[key] for key in ("iou", "score", "order", "link", "window")})


def links(
    boxes: np.ndarray, frames: np.ndarray, settings: FusionSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``i < j`` of linked boxes."""
    window = settings.window if settings.link == "window" else None
    return linked_pairs(boxes, settings.iou, frames, window)


def group_score(member_scores: Sequence[float], how: str) -> float:
    """A group's score from its members' scores (``math.fsum``: exact, order-independent)."""
    if how == "max":
        return float(max(member_scores))
    total = math.fsum(member_scores)
    return total if how == "sum" else total / len(member_scores)


def group(
    boxes: np.ndarray, frames: np.ndarray, scores: np.ndarray, settings: FusionSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Group the boxes: ``(labels, group_scores)``.

    Groups are numbered by their first member in the input order, so with boxes given in
    descending score the numbering is a deterministic tie-break.
    """
    labels = group_labels(boxes, frames, settings)
    return labels, score_groups(labels, scores, settings.score)


def group_labels(boxes: np.ndarray, frames: np.ndarray, settings: FusionSettings) -> np.ndarray:
    """Each box's group (connected component of the links), numbered by first member."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    i, j = links(boxes, frames, settings)
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, raw = connected_components(graph, directed=False)
    _, first, labels = np.unique(raw, return_index=True, return_inverse=True)
    renumber = np.empty(len(first), dtype=np.int64)
    renumber[np.argsort(first, kind="stable")] = np.arange(len(first))
    return renumber[labels]


def score_groups(labels: np.ndarray, scores: np.ndarray, how: str) -> np.ndarray:
    """Each group's score (``group_score``) from its members' scores; labels ``0..G-1``."""
    if len(labels) == 0:
        return np.zeros(0)
    if how == "max":
        values = np.full(int(labels.max()) + 1, -np.inf)
        np.maximum.at(values, labels, scores)
        return values
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    parts = np.split(scores[order], cuts)
    return np.array([group_score(part.tolist(), how) for part in parts])


def merge_forest(
    n: int, i: np.ndarray, j: np.ndarray, time: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A minimum spanning forest of the links weighted by ``time`` (positive integers).

    For every t, the forest's edges with time <= t connect exactly the components that all
    links with time <= t connect, so a threshold sweep only has to replay ``n - 1`` merges.
    Returns the forest's ``(i, j, time)`` sorted by time.
    """
    if len(i) == 0:
        return i, j, time
    graph = coo_matrix((time.astype(float), (i, j)), shape=(n, n)).tocsr()
    forest = minimum_spanning_tree(graph).tocoo()
    order = np.lexsort((forest.col, forest.row, forest.data))
    return (
        forest.row[order].astype(np.int64),
        forest.col[order].astype(np.int64),
        forest.data[order].astype(np.int64),
    )
