"""Masses: 3-D hypoechoic bodies with smooth, lobulated or spiculated margins.

Echo pattern as BI-RADS defines it, relative to subcutaneous fat: most masses are hypoechoic
(darker than fat, so darker than the fat lobules of the gland too); about one in eight is
isoechoic to fat and shows mostly by a thin echogenic capsule.

A mass's surface is a unit sphere scaled by its semi-axes and pushed out by a radial
perturbation over directions (a lookup table: broad lobes, plus narrow spikes for spiculated
margins). The sweep cuts it plane by plane, so its cross-section grows and shrinks across the
frames; the elevation beam's thickness averages a few planes (partial volume), so the first and
last cuts are small and faint. The annotation box is what a reader can outline: the bounding box
of the pixels the mass fills at least half of, beam-averaged, when they are at least
MIN_VISIBLE_PIXELS; thinner end cuts stay unannotated, as a sonographer would leave them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dynbus import exactmath as exact
from dynbus.simulate.anatomy import FAT, GLAND, Tissue
from dynbus.simulate.fields import gaussian_filter

LUT_SHAPE = (96, 192)  # polar angle from the depth axis x azimuth
MIN_VISIBLE_PIXELS = 40
VISIBLE_FILL = 0.5


@dataclass(frozen=True)
class Mass:
    """A mass in the sweep's coordinates: centre, semi-axes (own frame), margin and echoes."""

    x: float
    y: float
    z: float
    a: float  # lateral semi-axis in the mass's own frame
    b: float  # depth semi-axis
    c: float  # elevation semi-axis
    surface: np.ndarray  # LUT_SHAPE radial perturbation
    echo: float  # interior amplitude relative to gland
    edge: float  # margin blur, in normalised radius
    posterior: float  # attenuation per pixel inside: > 0 shadow, < 0 enhancement
    halo: float  # echogenic rim amplitude
    rotated: bool = False  # swept at 90 degrees: the image's x is the mass's own z

    @property
    def reach(self) -> float:
        """Largest normalised radius of the surface."""
        return 1.0 + float(self.surface.max())

    @property
    def lateral(self) -> float:
        """Semi-axis along the image's x."""
        return self.c if self.rotated else self.a

    @property
    def elevation(self) -> float:
        """Semi-axis along the sweep."""
        return self.a if self.rotated else self.c

    def turned(self, x: float, y: float, z: float) -> Mass:
        """The same mass seen by a sweep at 90 degrees, centred at (x, y, z) of that sweep."""
        return replace(self, x=x, y=y, z=z, rotated=not self.rotated)


def _surface(rng: np.random.Generator, margin: str) -> np.ndarray:
    theta = np.linspace(0, np.pi, LUT_SHAPE[0])[:, None]
    phi = np.linspace(-np.pi, np.pi, LUT_SHAPE[1], endpoint=False)[None, :]
    sin_theta = exact.sin(theta)
    normal = (sin_theta * exact.cos(phi), exact.cos(theta) + 0 * phi, sin_theta * exact.sin(phi))
    lobes = {
        "smooth": (4, 0.03, 0.1, 3, 8),
        "lobulated": (6, 0.12, 0.28, 6, 16),
        "spiculated": (5, 0.08, 0.2, 6, 14),
    }[margin]
    bumps = [lobes]
    if margin == "spiculated":
        bumps.append((int(rng.integers(15, 40)), 0.3, 0.8, 150, 500))
    surface = np.zeros(LUT_SHAPE)
    for count, amp_lo, amp_hi, kappa_lo, kappa_hi in bumps:
        for _ in range(count):
            mu = rng.standard_normal(3)
            mu /= np.sqrt(mu[0] * mu[0] + mu[1] * mu[1] + mu[2] * mu[2])  # not BLAS: exact
            cosine = normal[0] * mu[0] + normal[1] * mu[1] + normal[2] * mu[2]
            kappa = rng.uniform(kappa_lo, kappa_hi)
            surface += rng.uniform(amp_lo, amp_hi) * exact.exp(kappa * (cosine - 1.0))
    return (surface - 0.5 * surface.mean()).astype(np.float32)


def sample_mass(rng: np.random.Generator) -> Mass:
    """Draw a mass (centre left at 0; the sweep plan places it)."""
    margin = rng.choice(["smooth", "lobulated", "spiculated"], p=[0.4, 0.3, 0.3])
    a = rng.uniform(13, 38)
    tall = rng.uniform(0.8, 1.2) if margin == "spiculated" else rng.uniform(0.5, 0.85)
    isoechoic = rng.random() < 0.12  # BI-RADS echo pattern: relative to subcutaneous fat
    echo = FAT * (rng.uniform(0.9, 1.1) if isoechoic else rng.uniform(0.3, 0.75))
    posterior = {
        "smooth": rng.uniform(-0.02, -0.004),
        "lobulated": rng.uniform(-0.01, 0.01),
        "spiculated": rng.uniform(0.006, 0.03),
    }[margin]
    if margin == "spiculated":
        halo = rng.uniform(0.3, 0.9)
    else:  # an isoechoic mass shows mostly by its thin echogenic capsule
        halo = rng.uniform(0.6, 1.0) if isoechoic else 0.0
    return Mass(
        x=0.0,
        y=0.0,
        z=0.0,
        a=a,
        b=a * tall,
        c=a * rng.uniform(0.7, 1.3),
        surface=_surface(rng, margin),
        echo=echo,
        edge={"smooth": 0.06, "lobulated": 0.1, "spiculated": 0.18}[margin],
        posterior=posterior,
        halo=halo,
    )


def _radius(mass: Mass, dx: np.ndarray, dy: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """Normalised radius divided by the surface's radius in that direction (< 1 = inside)."""
    own_x, own_z = (dz, dx) if mass.rotated else (dx, dz)
    qx, qy, qz = own_x / mass.a, dy / mass.b, own_z / mass.c
    rho = np.sqrt(qx * qx + qy * qy + qz * qz) + 1e-6
    i = np.minimum(
        (exact.arccos(np.clip(qy / rho, -1, 1)) * ((LUT_SHAPE[0] - 1) / np.pi) + 0.5).astype(
            np.int32
        ),
        LUT_SHAPE[0] - 1,
    )
    j = ((exact.arctan2(qz, qx) + np.pi) * (LUT_SHAPE[1] / (2 * np.pi))).astype(np.int32)
    return rho / (1.0 + mass.surface[i, j % LUT_SHAPE[1]])


def render_mass(
    rng: np.random.Generator, mass: Mass, z: np.ndarray, tissue: Tissue, beam: float
) -> list[tuple[float, float, float, float] | None]:
    """Paint ``mass`` into ``tissue``; return per frame its visible box (x1, y1, x2, y2) or None.

    ``beam`` is the half-thickness of the elevation beam in pixels (partial-volume averaging).
    """
    n_frames, height, width = tissue.reflect.shape
    reach = mass.reach
    y0, y1 = max(0, int(mass.y - mass.b * reach) - 2), min(height, int(mass.y + mass.b * reach) + 3)
    x0 = max(0, int(mass.x - mass.lateral * reach) - 2)
    x1 = min(width, int(mass.x + mass.lateral * reach) + 3)
    dy = (np.arange(y0, y1, dtype=np.float32) - mass.y)[None, :, None]
    dx = (np.arange(x0, x1, dtype=np.float32) - mass.x)[None, None, :]
    occupancy = np.zeros((n_frames, y1 - y0, x1 - x0), np.float32)
    ring = np.zeros_like(occupancy)
    for offset in (-beam, 0.0, beam):
        dz = (z.astype(np.float32) + np.float32(offset) - mass.z)[:, None, None]
        radius = _radius(mass, dx, dy, dz)
        occupancy += np.clip((1.0 - radius) / mass.edge + 0.5, 0.0, 1.0) / 3
        ring += np.clip(1.0 - np.abs(radius - 1.0 - mass.edge) / (2 * mass.edge), 0, 1) / 3
    boxes = [_box(frame >= VISIBLE_FILL, x0, y0) for frame in occupancy]
    texture = gaussian_filter(
        rng.standard_normal(occupancy.shape).astype(np.float32), (1.0, 2.0, 3.0)
    )
    texture /= texture.std() + 1e-6
    inside = GLAND * mass.echo * (1.0 + 0.3 * texture)
    view = tissue.reflect[:, y0:y1, x0:x1]
    view += occupancy * (inside - view) + mass.halo * ring * (1.0 - occupancy)
    tissue.atten[:, y0:y1, x0:x1] += mass.posterior * occupancy
    return boxes


def _box(mask: np.ndarray, x0: int, y0: int) -> tuple[float, float, float, float] | None:
    if mask.sum() < MIN_VISIBLE_PIXELS:
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (
        float(x0 + cols[0]),
        float(y0 + rows[0]),
        float(x0 + cols[-1] + 1),
        float(y0 + rows[-1] + 1),
    )
