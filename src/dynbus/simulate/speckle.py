"""Multiplicative speckle: correlated in space, partially decorrelating from frame to frame.

Speckle is the envelope of a complex Gaussian field (Rayleigh statistics). A bank of
PSF-filtered complex fields is made once per run; each frame's field is an AR(1) mix of the
previous frame's field and a random crop of the bank, so consecutive frames are correlated
with coefficient ``rho`` and the pattern wanders as the probe moves.
"""

from __future__ import annotations

import numpy as np

from dynbus import exactmath as exact
from dynbus.simulate.fields import gaussian_filter


class SpeckleBank:
    """Filtered complex Gaussian fields twice ``shape``, to crop speckle frames from.

    Complex values are kept as (real, imaginary) float32 planes: numpy's complex ufuncs may
    fuse multiply-adds on some CPUs, separate real operations round the same everywhere.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        shape: tuple[int, int],
        n_fields: int = 6,
        psf_sigma: tuple[float, float] = (1.0, 2.2),
    ) -> None:
        height, width = shape
        noise = rng.standard_normal((n_fields, 2, 2 * height, 2 * width)).astype(np.float32)
        noise = gaussian_filter(noise, (0, 0, *psf_sigma), mode="wrap")
        noise /= np.sqrt(np.mean(noise[:, 0] * noise[:, 0] + noise[:, 1] * noise[:, 1]))
        self.fields = noise
        self.shape = shape

    def _crop(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """A random crop (2, *shape) of a field, turned by a random phase."""
        height, width = shape
        k = rng.integers(len(self.fields))
        y, x = rng.integers(2 * self.shape[0] - height), rng.integers(2 * self.shape[1] - width)
        real, imag = self.fields[k, :, y : y + height, x : x + width]
        angle = rng.uniform(0, 2 * np.pi)
        cos, sin = np.float32(exact.cos(angle)), np.float32(exact.sin(angle))
        return np.stack([real * cos - imag * sin, real * sin + imag * cos])

    def cine(
        self, rng: np.random.Generator, n_frames: int, shape: tuple[int, int], rho: float
    ) -> np.ndarray:
        """Speckle envelopes (T, *shape) float32 with E[s^2] = 1; ``rho`` is the correlation of
        the underlying complex field between consecutive frames. ``shape`` <= the bank's."""
        out = np.empty((n_frames, *shape), dtype=np.float32)
        innovation = np.float32(np.sqrt(1.0 - rho * rho))
        field = self._crop(rng, shape)
        for t in range(n_frames):
            if t:
                field = np.float32(rho) * field + innovation * self._crop(rng, shape)
            np.sqrt(field[0] * field[0] + field[1] * field[1], out=out[t])
        return out
