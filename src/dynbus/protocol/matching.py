"""Greedy matching of detections (boxes or groups) to lesions (DESIGN §2, "Matching")."""

from __future__ import annotations

import numpy as np

FALSE_POSITIVE = -1
DUPLICATE = -2


def greedy_match(scores: np.ndarray, overlap: np.ndarray, hit_iou: float) -> np.ndarray:
    """Outcome of each detection: the lesion index it hits, ``FALSE_POSITIVE`` or ``DUPLICATE``.

    Detections are taken in descending score (ties keep their input order: frame, then box, as
    :func:`dynbus.protocol.inputs.load_sequences` sorts them); each takes the unmatched lesion
    it overlaps most with IoU >= ``hit_iou`` (a TP), the lowest lesion index on equal IoUs
    (lesion indices follow ``lesion_id`` in string order). A detection that only
    overlaps lesions already taken is a duplicate (neither TP nor FP); one that overlaps no
    lesion is a false positive. ``overlap`` is ``(n_detections, n_lesions)``.
    """
    scores = np.asarray(scores, dtype=float)
    overlap = np.asarray(overlap, dtype=float)
    hits = overlap >= hit_iou
    outcome = np.full(len(scores), FALSE_POSITIVE, dtype=np.int64)
    touching = np.flatnonzero(hits.any(axis=1))
    if len(touching) == 0:
        return outcome
    outcome[touching] = DUPLICATE
    taken = np.zeros(overlap.shape[1], dtype=bool)
    for det in touching[np.argsort(-scores[touching], kind="stable")]:
        free = hits[det] & ~taken
        if free.any():
            lesion = int(np.argmax(np.where(free, overlap[det], -1.0)))
            taken[lesion] = True
            outcome[det] = lesion
    return outcome
