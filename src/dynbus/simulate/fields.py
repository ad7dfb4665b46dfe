"""Smooth random fields and linear resampling: the low-frequency material tissue is built from."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from dynbus import exactmath


def _double(volume: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation to twice the samples along ``axis`` (pixel centres, edges clamped)."""
    n = volume.shape[axis]
    take = lambda idx: np.take(volume, idx, axis=axis)  # noqa: E731
    centre = 0.75 * volume
    before = centre + 0.25 * take(np.r_[0, np.arange(n - 1)])
    after = centre + 0.25 * take(np.r_[np.arange(1, n), n - 1])
    return np.stack([before, after], axis=axis + 1).reshape(
        *volume.shape[:axis], 2 * n, *volume.shape[axis + 1 :]
    )


def upsample(volume: np.ndarray, height: int, width: int) -> np.ndarray:
    """(T, h, w) sampled at pixel centres 2k + 0.5 -> (T, height, width), linear interpolation;
    ``h = ceil(height / 2)``, ``w = ceil(width / 2)``."""
    return np.ascontiguousarray(_double(_double(volume, 1), 2)[:, :height, :width])


def smooth_curves(
    rng: np.random.Generator, n_frames: int, width: int, sigma_z: float, sigma_x: float
) -> np.ndarray:
    """Unit-variance smooth noise over (frame, x), shaped (T, 1, W) to broadcast over depth."""
    pad = int(3 * sigma_x) + 1
    noise = rng.standard_normal((n_frames, width + 2 * pad))
    curve = gaussian_filter(noise, (sigma_z, sigma_x), mode="reflect")[:, pad:-pad]
    curve /= curve.std() + 1e-6
    return curve[:, None, :].astype(np.float32)


def smooth_volume(
    rng: np.random.Generator, shape: tuple[int, int, int], sigma: tuple[float, float, float]
) -> np.ndarray:
    """Unit-variance smooth noise of ``shape`` (T, H, W); ``sigma`` in (frames, px, px).

    Made on a grid twice coarser in depth and width, then linearly upsampled.
    """
    n_frames, height, width = shape
    low = rng.standard_normal((n_frames, -(-height // 2), -(-width // 2))).astype(np.float32)
    low = gaussian_filter(low, (sigma[0], sigma[1] / 2, sigma[2] / 2), mode="reflect")
    low /= low.std() + 1e-6
    return upsample(low, height, width)


def gaussian_filter(
    volume: np.ndarray, sigma: tuple[float, ...], mode: str = "reflect"
) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(volume, sigma, mode=mode)`` (truncate 4) with the kernel
    weights from :func:`dynbus.exactmath.exp` (scipy's come from ``np.exp``, whose last bit
    depends on the CPU); axes with sigma 0 are left as is."""
    out = np.asarray(volume)
    for axis, sd in enumerate(sigma):
        if sd <= 0:
            continue
        radius = int(4.0 * sd + 0.5)
        x = np.arange(-radius, radius + 1, dtype=np.float64)
        weights = exactmath.exp(-0.5 / (sd * sd) * (x * x))
        out = ndimage.correlate1d(out, weights / weights.sum(), axis, mode=mode)
    return out
