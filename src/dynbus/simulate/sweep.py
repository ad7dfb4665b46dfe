"""One recorded sweep: where the probe moves, what it cuts, and the frames it shows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dynbus import exactmath as exact
from dynbus.simulate.anatomy import Tissue, build_tissue
from dynbus.simulate.fields import upsample
from dynbus.simulate.lesions import Mass, render_mass
from dynbus.simulate.scanner import bmode
from dynbus.simulate.shapes import Grid
from dynbus.simulate.speckle import SpeckleBank

Box = tuple[float, float, float, float]
BEAM_HALF_THICKNESS = 3.0  # elevation beam, pixels
TISSUE_STEP = 2  # tissue is sampled every TISSUE_STEP pixels, masses at full resolution


@dataclass
class SweepPlan:
    """A sweep of ``n_frames`` planes ``dz`` apart; masses placed by (lesion id, mass)."""

    n_frames: int
    dz: float
    z0: float
    masses: list[tuple[int, Mass]] = field(default_factory=list)
    lateral: list[float] = field(default_factory=list)  # x of each mass, fraction of width

    @property
    def z(self) -> np.ndarray:
        """Elevation of every frame's plane."""
        return self.z0 + self.dz * np.arange(self.n_frames)


def across(rng: np.random.Generator, mass: Mass, n_frames: int) -> SweepPlan:
    """A sweep that starts at one edge of ``mass`` and ends at the other (centre at z = 0)."""
    half = mass.elevation * (1.0 + float(mass.surface.max()) * 0.5)
    start, end = -half * rng.uniform(0.92, 1.1), half * rng.uniform(0.92, 1.1)
    return SweepPlan(n_frames, (end - start) / (n_frames - 1), start)


def survey(rng: np.random.Generator, n_frames: int) -> SweepPlan:
    """A sweep over tissue with no mass (the upper-outer quadrant)."""
    return SweepPlan(n_frames, rng.uniform(1.0, 2.5), 0.0)


def render(
    rng: np.random.Generator, plan: SweepPlan, shape: tuple[int, int], bank: SpeckleBank
) -> tuple[np.ndarray, dict[int, list[Box | None]]]:
    """Frames (T, H, W) uint8 of the image area and, per lesion id, its box in every frame."""
    height, width = shape
    z = plan.z
    coarse = np.arange(TISSUE_STEP / 2 - 0.5, height, TISSUE_STEP)
    grid = Grid(z, coarse, np.arange(TISSUE_STEP / 2 - 0.5, width, TISSUE_STEP))
    sampled = build_tissue(rng, grid, plan.dz, height)
    tissue = Tissue(
        upsample(sampled.reflect, height, width),
        upsample(sampled.atten, height, width),
        sampled.gland_top,
        sampled.gland_bottom,
    )
    boxes: dict[int, list[Box | None]] = {}
    for (lesion_id, mass), lateral in zip(plan.masses, plan.lateral, strict=True):
        low = tissue.gland_top + mass.b * 0.4
        high = max(low, tissue.gland_bottom - mass.b * 0.3)
        depth = float(np.clip(rng.uniform(low, high), mass.b + 6, height - mass.b - 6))
        placed = replace(mass, x=lateral * width, y=depth)
        boxes[lesion_id] = render_mass(rng, placed, z, tissue, BEAM_HALF_THICKNESS)
    rho = float(np.clip(exact.exp(-plan.dz / rng.uniform(3.0, 6.0)), 0.3, 0.9))
    speckle = bank.cine(rng, plan.n_frames, shape, rho)
    image = bmode(
        tissue,
        speckle,
        white_db=rng.uniform(14, 19),
        dynamic_range_db=rng.uniform(45, 55),
        speckle_power=rng.uniform(0.7, 0.9),
        focus_px=height * rng.uniform(0.35, 0.6),
    )
    return image, boxes
