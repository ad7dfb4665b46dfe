"""``dynbus.exactmath`` and the integer perceptual hash agree with the float maths they replace.

Their point is to give the same bits on every CPU (``tests/test_dispatch.py``); here they must
also be the functions they stand for: within 1e-10 of numpy's, over the ranges the simulator
uses, with numpy's quadrants and dtypes, and the hash's downscale the exact area mean.
"""

from __future__ import annotations

import numpy as np
import pytest

from dynbus import exactmath
from dynbus.ingest import phash

RNG = np.random.default_rng(7)
WIDE = RNG.uniform(-700.0, 700.0, 200_000)
ANGLES = RNG.uniform(-2000.0, 2000.0, 200_000)
POSITIVE = np.exp(RNG.uniform(-700.0, 700.0, 200_000))


@pytest.mark.parametrize(
    ("ours", "numpy_", "x", "floor"),
    [
        (exactmath.exp, np.exp, WIDE, 0.0),
        (exactmath.log, np.log, POSITIVE, 0.0),
        (exactmath.log10, np.log10, POSITIVE, 0.0),
        (exactmath.sin, np.sin, ANGLES, 1.0),
        (exactmath.cos, np.cos, ANGLES, 1.0),
        (exactmath.arccos, np.arccos, RNG.uniform(-1.0, 1.0, 200_000), 1.0),
    ],
    ids=["exp", "log", "log10", "sin", "cos", "arccos"],
)
def test_functions_match_numpy_within_1e_10(ours, numpy_, x, floor) -> None:
    """Relative error 1e-10 (of max(|value|, ``floor``): sines near their zeros absolute)."""
    expected = numpy_(x)
    assert (np.abs(ours(x) - expected) <= 1e-10 * np.maximum(np.abs(expected), floor)).all()
    assert ours(np.full(3, 0.5, np.float32)).dtype == np.float32


def test_float32_log_is_computed_in_float32_within_a_few_ulps() -> None:
    x = np.exp(RNG.uniform(-80.0, 80.0, 200_000)).astype(np.float32)
    exact = np.log(x.astype(np.float64))
    ours = exactmath.log(x)
    assert ours.dtype == np.float32
    assert (np.abs(ours - exact) <= 4 * np.spacing(np.abs(exact).astype(np.float32))).all()


def test_arctan2_has_numpy_quadrants_signed_zeros_and_axes() -> None:
    y = np.r_[RNG.standard_normal(10_000), 0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 0.0, 3.0]
    x = np.r_[RNG.standard_normal(10_000), 1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 0.0, 3.0]
    np.testing.assert_allclose(exactmath.arctan2(y, x), np.arctan2(y, x), rtol=1e-10, atol=1e-12)
    assert np.array_equal(np.signbit(exactmath.arctan2(y, x)), np.signbit(np.arctan2(y, x)))


@pytest.mark.parametrize("shape", [(37, 53), (256, 320), (32, 32), (600, 800), (31, 1000)])
def test_downscale_is_the_exact_area_mean(shape) -> None:
    frame = RNG.integers(0, 256, shape).astype(np.uint8)

    def area(n_in: int) -> np.ndarray:  # weights of each input pixel in each of 32 equal bins
        edges = np.linspace(0.0, n_in, phash.SMALL + 1)
        pixels = np.arange(n_in)[None, :]
        overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
        overlap = overlap.clip(0, None)
        return overlap / overlap.sum(axis=1, keepdims=True)

    expected = area(shape[0]) @ frame.astype(np.float64) @ area(shape[1]).T
    np.testing.assert_allclose(phash.downscale(frame), expected, rtol=1e-6, atol=1e-4)


def test_integer_dct_hash_matches_the_float_dct_hash() -> None:
    small = np.stack([phash.downscale(RNG.integers(0, 256, (64, 80))) for _ in range(20)])
    k, x = np.arange(32)[:, None], np.arange(32)[None, :]
    dct = np.cos(np.pi * (2 * x + 1) * k / 64) * np.sqrt(2 / 32)
    dct[0] /= np.sqrt(2)
    low = (dct @ small.astype(np.float64) @ dct.T)[:, :16, :16].reshape(20, -1)
    bits = (low > np.median(low, axis=1, keepdims=True))[:, phash.BIT_ORDER]
    expected = np.ascontiguousarray(np.packbits(bits, axis=1, bitorder="little")).view("<u8")
    hashes, contrast = phash.hash_downscales(small)
    differing = np.unpackbits((hashes ^ expected).view(np.uint8)).sum()
    assert differing <= 2  # of 5,120: only coefficients within rounding of the median may flip
    np.testing.assert_allclose(contrast, small.std(axis=(1, 2)), rtol=1e-5)
