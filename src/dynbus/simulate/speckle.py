"""Multiplicative speckle: correlated in space, partially decorrelating from frame to frame.

Speckle is the envelope of a complex Gaussian field (Rayleigh statistics). A bank of
PSF-filtered complex fields is made once per run; each frame's field is an AR(1) mix of the
previous frame's field and a random crop of the bank, so consecutive frames are correlated
with coefficient ``rho`` and the pattern wanders as the probe moves.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


class SpeckleBank:
    """Filtered complex Gaussian fields twice ``shape``, to crop speckle frames from."""

    def __init__(
        self,
        rng: np.random.Generator,
        shape: tuple[int, int],
        n_fields: int = 6,
        psf_sigma: tuple[float, float] = (1.0, 2.2),
    ) -> None:
        height, width = shape
        noise = rng.standard_normal((n_fields, 2, 2 * height, 2 * width)).astype(np.float32)
        noise = ndimage.gaussian_filter(noise, (0, 0, *psf_sigma), mode="wrap")
        fields = noise[:, 0] + 1j * noise[:, 1]
        fields /= np.sqrt(np.mean(np.abs(fields) ** 2))
        self.fields = fields.astype(np.complex64)
        self.shape = shape

    def _crop(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        height, width = shape
        k = rng.integers(len(self.fields))
        y, x = rng.integers(2 * self.shape[0] - height), rng.integers(2 * self.shape[1] - width)
        crop = self.fields[k, y : y + height, x : x + width]
        phase = np.complex64(np.exp(1j * rng.uniform(0, 2 * np.pi)))
        return crop * phase

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
            np.abs(field, out=out[t])
        return out
