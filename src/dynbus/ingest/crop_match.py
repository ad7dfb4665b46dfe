"""Crop-tolerant matching of sequences by their frames' 32 x 32 thumbnails (duplicate check).

A copy of a sweep re-exported with a few % cropped from its borders keeps its content but not its
pHash (3-6 px off a 128 x 160 frame flip 28-46 of 256 bits). Frames are compared here by their
thumbnails, the pHash's 32 x 32 area downscale (:func:`dynbus.ingest.phash.downscale`) that the
frame writer stores as uint8: the middle 60 % of each axis of a frame (8 x 8 samples, the borders a
crop removes left out) is correlated (Pearson, so brightness and contrast do not count) with the
same region of every frame of the other sequences as it looks after each of
``len(COARSE_CROPS) ** 2`` crops (per axis: none, 4 % or 8 % off both borders, 6 % off one), and
for the sequence pairs reaching ``CANDIDATE_MIN`` again after each of ``len(FINE_CROPS) ** 2``
(0-7.5 % off each border in 2.5 % steps); a rescaled copy has the same thumbnail. A sequence
pair's score is the ``MATCHED_FRAMES``-th best frame match (so a copy of part of a sweep counts,
one lucky frame does not), taken both ways. Cost: every frame against every frame times the
coarse crops, as matrix products (``--stride`` thins both sides).
"""

from __future__ import annotations

import base64
import itertools
from functools import cache

import numpy as np

from dynbus.ingest.phash import SMALL

# per axis, (top, bottom) fractions cut off: a few for all pairs, a grid for the candidates
COARSE_CROPS = (
    (0.0, 0.0),
    (0.03, 0.03),
    (0.06, 0.06),
    (0.0, 0.05),
    (0.05, 0.0),
    (0.03, 0.08),
    (0.08, 0.03),
)
FINE_CROPS = tuple(itertools.product((0.0, 0.025, 0.05, 0.075), repeat=2))
COARSE_FRAMES = 8  # frames of each sequence compared with all others
CANDIDATE_MIN = 0.9
CENTRE = 0.2  # the candidate descriptor leaves out this fraction at each border
CENTRE_SAMPLES = 8
MATCHED_FRAMES = 3  # a sequence pair's score: the 3rd best frame match (one frame can be a fluke)


def thumbnails(small: np.ndarray) -> np.ndarray:
    """The (n, 32, 32) pHash downscales ``small`` rounded to uint8 (as stored in meta.json)."""
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def to_base64(thumbs: np.ndarray) -> str:
    """(n, 32, 32) uint8 thumbnails as one base64 string (for ``meta.json``)."""
    return base64.b64encode(np.ascontiguousarray(thumbs, dtype=np.uint8).tobytes()).decode()


def from_base64(text: str, n_frames: int) -> np.ndarray:
    """The ``n_frames`` thumbnails written by :func:`to_base64`; ValueError if malformed."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != n_frames * SMALL * SMALL:
        raise ValueError(f"{len(raw)} thumbnail bytes, not {n_frames} x {SMALL} x {SMALL}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(n_frames, SMALL, SMALL)


def window_matrix(top: float, bottom: float, n_out: int, n_in: int = SMALL) -> np.ndarray:
    """``n_out x n_in`` linear interpolation sampling the window ``[top, 1 - bottom]`` (fractions
    of the axis) of a signal of ``n_in`` pixels at ``n_out`` evenly spaced points."""
    position = (top + (1 - top - bottom) * (np.arange(n_out) + 0.5) / n_out) * n_in - 0.5
    position = np.clip(position, 0, n_in - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    weight = position - low
    matrix = np.zeros((n_out, n_in))
    np.add.at(matrix, (np.arange(n_out), low), 1 - weight)
    np.add.at(matrix, (np.arange(n_out), high), weight)
    return matrix


@cache
def _centre_matrices(crops: tuple[tuple[float, float], ...]) -> np.ndarray:
    """(crops, CENTRE_SAMPLES, SMALL): the centre of the frame as cropped by each axis crop,
    averaged over pairs of samples."""
    matrices = []
    for top, bottom in crops:
        span = 1 - top - bottom
        window = window_matrix(top + span * CENTRE, bottom + span * CENTRE, 2 * CENTRE_SAMPLES)
        matrices.append(window.reshape(CENTRE_SAMPLES, 2, SMALL).mean(axis=1))
    return np.stack(matrices).astype(np.float32)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows minus their mean, over their norm (so that dot products are Pearson correlations)."""
    vectors = vectors - vectors.mean(axis=-1, keepdims=True)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-6)


def centre_descriptors(
    thumbnails: np.ndarray, crops: tuple[tuple[float, float], ...]
) -> np.ndarray:
    """(len(crops) ** 2, n, 64) normalised centres of ``thumbnails`` (n, 32, 32) under every
    pair of a row and a column crop (the first: uncropped, as ``crops[0]`` must be)."""
    matrices = _centre_matrices(crops)
    rows = np.matmul(matrices[:, None], thumbnails.astype(np.float32)[None])  # (a, n, 8, 32)
    crops = np.matmul(rows[:, None], matrices.transpose(0, 2, 1)[None, :, None])
    n = len(thumbnails)
    return _normalised(crops.reshape(len(matrices) ** 2, n, CENTRE_SAMPLES**2))


def _scores(
    thumbnails: np.ndarray,
    owners: np.ndarray,
    n_owners: int,
    frames: int,
    crops: tuple[tuple[float, float], ...],
    chunk: int = 512,
) -> np.ndarray:
    """(n_owners, n_owners): row owner's ``frames``-th best frame match with a frame of the
    column owner under one of ``crops`` per axis; -1 where none was compared."""
    descriptors = centre_descriptors(thumbnails, crops)
    plain = descriptors[0]
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    stops = np.r_[starts[1:], len(owners)]
    score = np.full((n_owners, n_owners), -1.0, dtype=np.float32)
    group = 0
    while group < len(starts):  # blocks of whole owners, about ``chunk`` frames each
        last = max(group, np.searchsorted(starts, starts[group] + chunk) - 1)
        low, high = starts[group], stops[last]
        block = np.full((high - low, len(plain)), -1.0, dtype=np.float32)
        for cropped in descriptors:
            np.maximum(block, plain[low:high] @ cropped.T, out=block)
        per_owner = np.maximum.reduceat(block, starts, axis=1)  # (frames, owners present)
        for start, stop in zip(starts[group : last + 1], stops[group : last + 1], strict=True):
            rank = min(frames, stop - start)
            kth = -np.partition(-per_owner[start - low : stop - low], rank - 1, axis=0)[rank - 1]
            score[owners[start], owners[starts]] = kth
        group = last + 1
    np.fill_diagonal(score, -1.0)
    return score


def sequence_similarity(
    thumbnails: np.ndarray, owners: np.ndarray, n_owners: int, frames: int
) -> np.ndarray:
    """(n_owners, n_owners), symmetric: how well the frames of one owner match those of another
    under a crop of either: the ``frames``-th best, over one owner's frames, of each one's best
    centre correlation with a cropped frame of the other (the best, when it has fewer frames);
    -1 on the diagonal. ``owners`` sorted (thumbnails of one owner together).

    All pairs are compared on ``COARSE_FRAMES`` frames of each owner (evenly spaced) under
    ``COARSE_CROPS`` (best frame match); those reaching ``CANDIDATE_MIN`` on all their frames
    under ``FINE_CROPS``; the others keep their coarse score."""
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    stops = np.r_[starts[1:], len(owners)]
    sample = np.concatenate(
        [
            np.unique(np.linspace(start, stop - 1, COARSE_FRAMES).round().astype(int))
            for start, stop in zip(starts, stops, strict=True)
        ]
    )
    score = _scores(thumbnails[sample], owners[sample], n_owners, 1, COARSE_CROPS)
    score = np.maximum(score, score.T)
    for a, b in zip(*np.nonzero(np.triu(score >= CANDIDATE_MIN, 1)), strict=True):
        pair = (owners == a) | (owners == b)
        fine = _scores(thumbnails[pair], owners[pair], n_owners, frames, FINE_CROPS)
        score[a, b] = score[b, a] = max(fine[a, b], fine[b, a])
    return score


def best_frame_pair(thumbs_a: np.ndarray, thumbs_b: np.ndarray) -> tuple[int, int]:
    """Indices of the frames of two sequences whose centres correlate best under a crop
    (``FINE_CROPS``)."""
    desc_a = centre_descriptors(thumbs_a, FINE_CROPS)
    desc_b = centre_descriptors(thumbs_b, FINE_CROPS)
    score = np.maximum(
        np.max(desc_a[0] @ desc_b.transpose(0, 2, 1), axis=0),
        np.max(desc_a @ desc_b[0].T, axis=0),
    )
    i, j = np.unravel_index(np.argmax(score), score.shape)
    return int(i), int(j)
