"""256-bit perceptual hashes of 8-bit gray frames, for the duplicate check (numpy only).

pHash as ``imagehash.phash(hash_size=16, highfreq_factor=2)``: each frame's 32 x 32 area
downscale, its 2-D DCT, and the 16 x 16 lowest frequencies against their median. The downscale is
taken frame by frame (:func:`downscale`), so the writer of a frame folder hashes each frame while
it is in memory and keeps only 4 KB of it; :func:`hash_downscales` hashes a sequence's stack.
Both the frame writer and the duplicate check (on folders without stored hashes) go through
these two functions, so stored and recomputed hashes are the same bits.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import numpy as np

SMALL = 32
HASH_SIDE = 16
HASH_BITS = HASH_SIDE * HASH_SIDE
# a fixed shuffle of the bit positions, so that every multi-index chunk mixes coarse and fine
# frequencies (the coarse ones are alike in most ultrasound frames and would crowd one bucket)
BIT_ORDER = np.random.default_rng(20221).permutation(HASH_BITS)
HASH_WORDS = HASH_BITS // 64


@cache
def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``n_out x n_in`` weights averaging each of ``n_out`` equal bins of ``n_in`` samples."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    starts, stops = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(stops, pixels + 1) - np.maximum(starts, pixels), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


@cache
def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (``scipy.fft.dct(norm='ortho')`` as a product)."""
    k, x = np.arange(n)[:, None], np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


def downscale(frame: np.ndarray) -> np.ndarray:
    """The ``SMALL x SMALL`` area downscale (float32) of one gray frame (rows x columns)."""
    rows, columns = frame.shape
    return _area_matrix(rows, SMALL) @ (frame.astype(np.float32) @ _area_matrix(columns, SMALL).T)


def hash_downscales(small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """256-bit pHashes ((n, 4) uint64) of downscales ``small`` (n, 32, 32) and each one's
    standard deviation (its contrast)."""
    dct = _dct_matrix(SMALL)
    low = (dct @ small @ dct.T)[:, :HASH_SIDE, :HASH_SIDE].reshape(len(small), -1)
    bits = (low > np.median(low, axis=1, keepdims=True))[:, BIT_ORDER]
    hashes = np.ascontiguousarray(np.packbits(bits, axis=1, bitorder="little")).view("<u8")
    return hashes, small.std(axis=(1, 2))


def phash(frames: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """pHashes and contrasts of gray ``frames`` (an array or an iterable of frames, each
    downscaled as it comes), as :func:`hash_downscales`."""
    return hash_downscales(np.stack([downscale(frame) for frame in frames]))


def to_hex(hashes: np.ndarray) -> list[str]:
    """Each hash ((n, 4) uint64) as 64 hex digits (for ``meta.json``)."""
    return [row.astype("<u8").tobytes().hex() for row in hashes]


def from_hex(digits: list[str]) -> np.ndarray:
    """The (n, 4) uint64 hashes written by :func:`to_hex`; ValueError if malformed."""
    if any(len(text) != 16 * HASH_WORDS for text in digits):
        raise ValueError(f"a hash is not {16 * HASH_WORDS} hex digits")
    raw = b"".join(bytes.fromhex(text) for text in digits)
    return np.frombuffer(raw, dtype="<u8").reshape(len(digits), HASH_WORDS)
