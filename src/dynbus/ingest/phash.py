"""256-bit perceptual hashes of 8-bit gray frames, for the duplicate check (numpy only).

pHash as ``imagehash.phash(hash_size=16, highfreq_factor=2)``: each frame's 32 x 32 area
downscale, its 2-D DCT, and the 16 x 16 lowest frequencies against their median, in integer
arithmetic (exact, and the same bits on every CPU, which BLAS's float kernels are not). The
downscale is taken frame by frame (:func:`downscale`), so the writer of a frame folder hashes
each frame while it is in memory and keeps only 4 KB of it; :func:`hash_downscales` hashes a
sequence's stack. Both the frame writer and the duplicate check (on folders without stored
hashes) go through these two functions, so stored and recomputed hashes are the same bits.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import numpy as np

from dynbus.exactmath import cos

SMALL = 32
HASH_SIDE = 16
HASH_BITS = HASH_SIDE * HASH_SIDE
# a fixed shuffle of the bit positions, so that every multi-index chunk mixes coarse and fine
# frequencies (the coarse ones are alike in most ultrasound frames and would crowd one bucket)
BIT_ORDER = np.random.default_rng(20221).permutation(HASH_BITS)
HASH_WORDS = HASH_BITS // 64


DCT_SCALE = 2**14  # the DCT matrix in integers: round(2**14 * entry)
DOWNSCALE_SCALE = 2**12  # downscaled gray levels to integers: round(2**12 * value)


def _bin_sums(values: np.ndarray) -> np.ndarray:
    """``SMALL`` times the sums of ``values`` (rows x n, int64) over ``SMALL`` equal bins of its
    columns (bin b covers columns [b n / SMALL, (b + 1) n / SMALL), edge columns in part), exact.

    In units of 1 / SMALL column every edge is an integer: the sum up to position ``t`` is
    ``SMALL * prefix[t // SMALL] + (t % SMALL) * values[:, t // SMALL]``.
    """
    rows, n = values.shape
    whole, part = np.divmod(np.arange(SMALL + 1) * n, SMALL)
    prefix = np.zeros((rows, n + 1), np.int64)
    np.cumsum(values, axis=1, out=prefix[:, 1:])
    padded = np.concatenate([values, np.zeros((rows, 1), np.int64)], axis=1)
    return np.diff(SMALL * prefix[:, whole] + part * padded[:, whole], axis=1)


@cache
def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (``scipy.fft.dct(norm='ortho')`` as a product) times
    ``DCT_SCALE``, rounded to int64: products of integers are exact, and numpy multiplies
    integer matrices itself (BLAS, whose float kernel differs per CPU, is not used)."""
    k, x = np.arange(n)[:, None], np.arange(n)[None, :]
    matrix = cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return np.rint(matrix * DCT_SCALE).astype(np.int64)


def downscale(frame: np.ndarray) -> np.ndarray:
    """The ``SMALL x SMALL`` area downscale (float32) of one 8-bit gray frame (rows x columns):
    each bin's mean from exact integer sums, divided once (the same bits on every CPU)."""
    rows, columns = frame.shape
    sums = _bin_sums(_bin_sums(frame.astype(np.int64)).T).T  # SMALL**2 times each bin's sum
    return (sums / (rows * columns)).astype(np.float32)


def hash_downscales(small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """256-bit pHashes ((n, 4) uint64) of downscales ``small`` (n, 32, 32) and each one's
    standard deviation (its contrast). The DCT runs in int64 (|values| < 2**55: exact), and a
    coefficient is set when above the median of its frame's 256 (compared as twice itself
    against the sum of the middle two)."""
    levels = np.rint(small.astype(np.float64) * DOWNSCALE_SCALE).astype(np.int64)
    dct = _dct_matrix(SMALL)[:HASH_SIDE]
    low = (dct @ levels @ dct.T).reshape(len(small), -1)
    middle = np.sort(low, axis=1)[:, HASH_BITS // 2 - 1 : HASH_BITS // 2 + 1].sum(axis=1)
    bits = (2 * low > middle[:, None])[:, BIT_ORDER]
    hashes = np.ascontiguousarray(np.packbits(bits, axis=1, bitorder="little")).view("<u8")
    return hashes, small.astype(np.float64).std(axis=(1, 2)).astype(np.float32)


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
