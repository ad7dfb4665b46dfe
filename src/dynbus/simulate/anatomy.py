"""The breast seen by a linear probe: tissue layers, texture, ligaments, ribs and mass mimics.

Tissue is described by two volumes over (frame, depth, x): ``reflect`` (echo amplitude,
glandular tissue = 1) and ``atten`` (extra attenuation per pixel relative to soft tissue, so
that what lies below a rib or a ligament is shadowed and below a duct is enhanced). The sweep
slides the image plane along the elevation axis ``z``; every structure is a 3-D body or a
smooth field over (z, x), so consecutive frames show the same anatomy, slightly moved.
Lengths are in full-resolution pixels; the volumes are sampled on a (coarser) ``Grid``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynbus import exactmath as exact
from dynbus.simulate.fields import smooth_curves, smooth_volume
from dynbus.simulate.shapes import Cylinder, Ellipsoid, Grid, Slab

GEL, SKIN, FAT, GLAND, MUSCLE, LIGAMENT = 0.03, 2.2, 0.33, 1.0, 0.25, 1.5


@dataclass
class Tissue:
    """Echo amplitude and attenuation volumes (T, H, W), and the glandular layer's mean span."""

    reflect: np.ndarray
    atten: np.ndarray
    gland_top: float
    gland_bottom: float


def _band(y: np.ndarray, top: np.ndarray, bottom: np.ndarray, soft: float) -> np.ndarray:
    upper = np.clip((y - top) / soft + 0.5, 0.0, 1.0)
    lower = np.clip((bottom - y) / soft + 0.5, 0.0, 1.0)
    return upper * lower


def _paint(reflect: np.ndarray, value: np.ndarray | float, weight: np.ndarray) -> None:
    reflect += weight * (value - reflect)


def _paint_body(
    tissue: Tissue,
    slab: Slab | None,
    inside: float,
    rim: float,
    atten: float,
    rim_width: float = 0.12,
) -> None:
    """Fill a body (normalised radius < 1) with ``inside``; a bright rim; extra attenuation."""
    if slab is None:
        return
    rho, (i0, i1, j0, j1) = slab
    core = np.clip((1.0 - rho) / 0.08 + 0.5, 0.0, 1.0)
    view = tissue.reflect[:, i0:i1, j0:j1]
    _paint(view, inside * (0.8 + 0.4 * view / GLAND), core)
    if rim:
        view += rim * np.clip(1.0 - np.abs(rho - 1.0) / rim_width, 0.0, 1.0)
    if atten:
        tissue.atten[:, i0:i1, j0:j1] += atten * core


def _ligaments(
    rng: np.random.Generator,
    tissue: Tissue,
    grid: Grid,
    skin_bottom: np.ndarray,
    gland_top: np.ndarray,
) -> None:
    """Cooper's ligaments: thin bright arcs from the gland up to the skin, some shadowing."""
    y = grid.y.astype(np.float32)[None, :, None]
    x = grid.x.astype(np.float32)[None, None, :]
    zc = (grid.z - grid.z.mean()).astype(np.float32)[:, None, None]
    width = float(grid.x[-1])
    for _ in range(int(rng.integers(3, 8))):
        base = np.float32(rng.uniform(0, width))
        xb = base + np.float32(rng.uniform(-0.4, 0.4)) * zc
        column = int(np.searchsorted(grid.x, base).clip(0, len(grid.x) - 1))
        top = skin_bottom[:, :, column : column + 1]
        bottom = gland_top[:, :, column : column + 1]
        t = (bottom - y) / np.maximum(bottom - top, 1.0)
        lean, bow = rng.uniform(-0.8, 0.8), rng.uniform(-12, 12)
        centre = xb + lean * t * (bottom - top) + bow * exact.sin(np.pi * t)
        line = exact.exp(-(((x - centre) / rng.uniform(1.0, 2.0)) ** 2)) * ((t > 0) & (t < 1))
        _paint(tissue.reflect, LIGAMENT, line.astype(np.float32))
        if rng.random() < 0.3:  # refraction shadow below the ligament's base
            shadow = exact.exp(-(((x - xb) / rng.uniform(1.5, 4.0)) ** 2)) * (y > bottom)
            tissue.atten += np.float32(rng.uniform(0.006, 0.02)) * shadow.astype(np.float32)


def _mimics(
    rng: np.random.Generator, tissue: Tissue, grid: Grid, fat_span: tuple[float, float]
) -> None:
    """Fat lobules (oval, fat-like, thin capsule) and dilated ducts (tubes with bright walls)."""
    zmin, zmax, width = float(grid.z.min()), float(grid.z.max()), float(grid.x[-1])
    spans = [fat_span] * int(rng.integers(1, 4)) + [(tissue.gland_top, tissue.gland_bottom)] * int(
        rng.integers(1, 5)
    )
    for top, bottom in spans:
        a = rng.uniform(8, 28)
        body = Ellipsoid(
            x=rng.uniform(0, width),
            y=rng.uniform(top, max(top + 1, bottom)),
            z=rng.uniform(zmin, zmax),
            a=a,
            b=a * rng.uniform(0.35, 0.7),
            c=rng.uniform(8, 30),
        )
        _paint_body(
            tissue,
            body.rho(grid),
            FAT * rng.uniform(0.7, 1.05),
            rim=rng.uniform(0.2, 0.8),
            atten=0.0,
        )
    for _ in range(int(rng.poisson(0.8))):
        radius = rng.uniform(2.5, 6.0)
        duct = Cylinder(
            x=rng.uniform(0.2, 0.8) * width,
            y=rng.uniform(tissue.gland_top, max(tissue.gland_top + 1, tissue.gland_bottom)),
            z=rng.uniform(zmin, zmax),
            a=radius * rng.uniform(1.0, 1.6),
            b=radius,
            angle=rng.uniform(0, np.pi),
            half_length=rng.uniform(25, 90),
        )
        _paint_body(tissue, duct.rho(grid), 0.05, rim=0.9, atten=-0.02, rim_width=0.3)


def _chest_wall(rng: np.random.Generator, tissue: Tissue, grid: Grid, top: float) -> None:
    """Ribs (bright anterior arc and acoustic shadow) or costal cartilage, and the pleura."""
    crossing = rng.random() < 0.7
    for _ in range(int(rng.integers(1, 3))):
        b = rng.uniform(6, 11)
        angle = rng.uniform(1.2, 1.95) if crossing else rng.uniform(-0.35, 0.35)
        rib = Cylinder(
            x=rng.uniform(0.15, 0.85) * float(grid.x[-1]),
            y=top + b + rng.uniform(2, 15),
            z=rng.uniform(grid.z.min(), grid.z.max()),
            a=rng.uniform(12, 22),
            b=b,
            angle=angle,
        )
        slab = rib.rho(grid)
        if slab is None:
            continue
        if rng.random() < 0.65:  # bone: bright anterior cortex, total shadow
            rho, (i0, i1, j0, j1) = slab
            _paint_body(tissue, slab, 0.08, rim=0.0, atten=0.2)
            upper = (grid.y[i0:i1] < rib.y).astype(np.float32)[None, :, None]
            ring = np.clip(1.0 - np.abs(rho - 1.0) / 0.18, 0.0, 1.0) * upper
            tissue.reflect[:, i0:i1, j0:j1] += 3.0 * ring
        else:  # costal cartilage: hypoechoic oval, little shadow
            _paint_body(tissue, slab, 0.12, rim=0.6, atten=0.004)
    pleura = top + rng.uniform(22, 32)
    y = grid.y.astype(np.float32)[None, :, None]
    for k, gain in enumerate((1.8, 0.7, 0.3)):  # pleural line and its reverberations (A-lines)
        tissue.reflect += gain * exact.exp(-(((y - pleura * (1 + k * 0.45)) / 1.5) ** 2))


def build_tissue(rng: np.random.Generator, grid: Grid, dz: float, height: int) -> Tissue:
    """Tissue volumes on ``grid`` for a sweep whose planes lie ``dz`` apart; ``height`` = depth
    of the image area in pixels."""
    n_frames, step = len(grid.z), float(grid.y[1] - grid.y[0])
    shape = (n_frames, len(grid.y), len(grid.x))
    sz = max(0.5, 10.0 / dz)  # texture correlation length (px) expressed in frames
    y = grid.y.astype(np.float32)[None, :, None]
    x = grid.x.astype(np.float32)[None, None, :]

    def curve(scale: float) -> np.ndarray:
        return scale * smooth_curves(rng, n_frames, len(grid.x), sz * 3, len(grid.x) / 6)

    skin_top = 3.0 + curve(0.8)
    skin_bottom = skin_top + rng.uniform(3.5, 5.5)
    gland_top = skin_bottom + height * rng.uniform(0.07, 0.25) + curve(6.0)
    gland_bottom = gland_top + height * rng.uniform(0.35, 0.6) + curve(10.0)
    muscle_top = gland_bottom + height * rng.uniform(0.02, 0.05)
    muscle_bottom = muscle_top + height * rng.uniform(0.08, 0.14) + curve(3.0)

    texture = smooth_volume(rng, shape, (sz, 2.5 / step, 7.0 / step))
    coarse = smooth_volume(rng, shape, (sz * 2, 10.0 / step, 22.0 / step))
    reflect = FAT * (1.0 + 0.15 * texture)
    fibro = 1.0 / (1.0 + exact.exp(-3.0 * (texture + 0.7 * coarse + rng.uniform(0.0, 1.0))))
    _paint(reflect, FAT + (GLAND - FAT) * fibro, _band(y, gland_top, gland_bottom, 6.0))
    angle, period = rng.uniform(-0.5, 0.5), rng.uniform(5, 9)
    across = y * exact.cos(angle) + x * exact.sin(angle)
    fibres = exact.cos(2 * np.pi * across / period + 1.5 * coarse)
    ridges = np.maximum(fibres, 0.0) ** 2
    muscle = MUSCLE * (1.0 + 2.0 * ridges * ridges * ridges)
    _paint(reflect, muscle, _band(y, muscle_top, muscle_bottom, 3.0))
    _paint(reflect, 0.3 * (1.0 + 0.3 * texture), (y > muscle_bottom).astype(np.float32))
    _paint(reflect, SKIN, _band(y, skin_top, skin_bottom, 1.5))
    _paint(reflect, GEL, (y < skin_top - 1).astype(np.float32))

    tissue = Tissue(
        reflect=reflect.astype(np.float32),
        atten=np.zeros(shape, np.float32),
        gland_top=float(gland_top.mean()),
        gland_bottom=float(min(gland_bottom.mean(), height - 10)),
    )
    _ligaments(rng, tissue, grid, skin_bottom, gland_top)
    _mimics(rng, tissue, grid, (float(skin_bottom.mean()) + 4, tissue.gland_top - 4))
    chest = float(muscle_bottom.mean())
    if chest < height - 20:
        _chest_wall(rng, tissue, grid, chest)
    return tissue
