"""3-D bodies sliced by the sweep: each gives, per frame, a normalised radius on a sample grid.

Frame ``t`` is the plane ``z = grid.z[t]`` (elevation, in pixels); ``x`` is lateral and ``y``
depth, sampled at ``grid.x`` / ``grid.y`` (full-resolution pixel units, possibly every other
pixel). A body occupies the points where its normalised radius is below 1. Values are computed
only over the grid indices of the body's bounding box, returned as ``(i0, i1, j0, j1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynbus import exactmath as exact

Box = tuple[int, int, int, int]
Slab = tuple[np.ndarray, Box]


@dataclass(frozen=True)
class Grid:
    """Where a volume is sampled: frame elevations ``z``, row depths ``y``, columns ``x``."""

    z: np.ndarray
    y: np.ndarray
    x: np.ndarray

    def span(self, yc: float, ry: float, xc: float, rx: float) -> Box | None:
        """Grid index box covering [yc - ry, yc + ry] x [xc - rx, xc + rx], or None if empty."""
        i0, i1 = np.searchsorted(self.y, [yc - ry - 1, yc + ry + 1])
        j0, j1 = np.searchsorted(self.x, [xc - rx - 1, xc + rx + 1])
        return (int(i0), int(i1), int(j0), int(j1)) if i0 < i1 and j0 < j1 else None


@dataclass(frozen=True)
class Ellipsoid:
    """Axis-aligned ellipsoid: centre (x, y, z) and semi-axes (a lateral, b depth, c elevation)."""

    x: float
    y: float
    z: float
    a: float
    b: float
    c: float

    def rho(self, grid: Grid) -> Slab | None:
        """Normalised radius (T, h, w) over the bounding box, or None if out of view."""
        box = grid.span(self.y, self.b, self.x, self.a)
        if box is None or np.all(np.abs(grid.z - self.z) >= self.c):
            return None
        i0, i1, j0, j1 = box
        dy = ((grid.y[i0:i1] - self.y) / self.b).astype(np.float32)[None, :, None]
        dx = ((grid.x[j0:j1] - self.x) / self.a).astype(np.float32)[None, None, :]
        dz = ((grid.z - self.z) / self.c).astype(np.float32)[:, None, None]
        return np.sqrt(dx * dx + dy * dy + dz * dz), box


@dataclass(frozen=True)
class Cylinder:
    """Horizontal tube through (x, y, z) whose axis makes ``angle`` with the image plane's x.

    Cross-section semi-axes: ``a`` horizontal, ``b`` vertical; ``half_length`` limits the tube
    along its axis (``inf`` for a rib). At angle 0 the tube lies in the image plane (a long
    band); at 90 degrees it crosses it (an oval that barely moves from frame to frame).
    """

    x: float
    y: float
    z: float
    a: float
    b: float
    angle: float
    half_length: float = float("inf")

    def rho(self, grid: Grid) -> Slab | None:
        """Normalised radius (T, h, w) over the rows the tube can reach, or None if none."""
        box = grid.span(self.y, self.b, float(grid.x.mean()), float(np.ptp(grid.x)))
        if box is None:
            return None
        i0, i1, j0, j1 = box
        sin, cos = np.float32(exact.sin(self.angle)), np.float32(exact.cos(self.angle))
        dx = (grid.x[j0:j1] - self.x).astype(np.float32)[None, None, :]
        dz = (grid.z - self.z).astype(np.float32)[:, None, None]
        across = (-dx * sin + dz * cos) / self.a
        dy = ((grid.y[i0:i1] - self.y) / self.b).astype(np.float32)[None, :, None]
        rho = np.sqrt(across * across + dy * dy)
        if np.isfinite(self.half_length):
            rho = np.maximum(rho, np.abs(dx * cos + dz * sin) / self.half_length)
        return rho, box
