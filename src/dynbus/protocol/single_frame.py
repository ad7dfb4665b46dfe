"""The single-frame protocol's frame draw: one seeded frame per sequence (DESIGN §2)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

import numpy as np


def draw_frame(
    sequence_id: str, n_frames: int, annotated: Collection[int], pick: str, seed: int
) -> int:
    """The frame drawn for ``sequence_id``.

    ``pick: annotated`` draws among the frames where a lesion is annotated when there are any,
    ``any`` (or a sequence without lesions) among all ``n_frames``. The generator is seeded by
    ``seed`` and a digest of the sequence id, so a draw does not depend on which other
    sequences are evaluated or in what order.
    """
    digest = int.from_bytes(hashlib.sha256(sequence_id.encode("utf-8")).digest()[:8], "big")
    rng = np.random.default_rng([seed, digest])
    if pick == "annotated" and len(annotated) > 0:
        return int(rng.choice(np.array(sorted(annotated), dtype=np.int64)))
    if pick not in {"annotated", "any"}:
        raise ValueError(f"unknown single_frame.pick {pick!r}")
    return int(rng.integers(n_frames))
