"""The synthetic study: patients, their sweeps (the paper's protocol), DICOM files, boxes.

Protocol (DESIGN section 1): per mass the sonographer sweeps from one edge to the other, then
often again with the probe turned 90 degrees; patients without a mass get a sweep of the
upper-outer quadrant; sometimes two masses share a sweep. 1-4 sequences per patient.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np

from dynbus.errors import DynbusError
from dynbus.simulate.dicom_writer import Series, write_cine
from dynbus.simulate.lesions import sample_mass
from dynbus.simulate.phi import Identity, banner_lines, make_identity
from dynbus.simulate.scanner import Layout, compose, make_layout, overlay
from dynbus.simulate.speckle import SpeckleBank
from dynbus.simulate.sweep import SweepPlan, across, render, survey

ENCODING_CYCLE = (
    "jpeg_ybr",
    "jpeg_gray",
    "explicit_gray",
    "jpeg_ybr",
    "explicit_rgb",
    "rle_rgb",
    "jpeg_ybr",
    "jpegls_gray",
)
TEXT_COLOURS = ((255, 230, 120), (140, 230, 255), (255, 255, 255))
MAX_SEQUENCES = 4
ANNOTATION_COLUMNS = ["file", "frame", "lesion_id", "x1", "y1", "x2", "y2"]


@dataclass(frozen=True)
class Settings:
    """What a run makes: ``frames`` is the (min, max) number of frames of a sequence."""

    seed: int
    patients: int
    frames: tuple[int, int]
    rows: int
    columns: int


def _plan_patient(
    rng: np.random.Generator, frames: tuple[int, int], width: int
) -> list[tuple[str, SweepPlan]]:
    """The patient's sweeps as (label, plan); labels read like 'L 2:00 RAD'."""

    def n_frames() -> int:
        return int(rng.integers(frames[0], frames[1] + 1))

    masses = [sample_mass(rng) for _ in range(rng.choice(3, p=[0.3, 0.55, 0.15]))]
    sweeps: list[tuple[str, SweepPlan]] = []
    if len(masses) == 2 and rng.random() < 0.6:  # two neighbouring masses in one sweep
        limit = 0.17 * width
        masses = [
            replace(m, a=m.a * s, b=m.b * s, c=m.c * s)
            for m in masses
            for s in [min(1.0, limit / (m.lateral * m.reach))]
        ]
        plan = across(rng, masses[0], n_frames())
        offset = rng.uniform(-0.4, 0.4) * masses[0].elevation
        plan.masses = [(1, masses[0]), (2, replace(masses[1], z=offset))]
        plan.lateral = [rng.uniform(0.22, 0.32), rng.uniform(0.68, 0.78)]
        sweeps.append((f"{_site(rng)} RAD", plan))
    for lesion_id, mass in enumerate(masses, start=1):
        site = _site(rng)
        for turned in (False, True):
            if turned and rng.random() < 0.4:
                continue
            shown = mass.turned(0.0, 0.0, 0.0) if turned else mass
            plan = across(rng, shown, n_frames())
            plan.masses, plan.lateral = [(lesion_id, shown)], [rng.uniform(0.35, 0.65)]
            sweeps.append((f"{site} {'ARAD' if turned else 'RAD'}", plan))
    if not masses or rng.random() < 0.2:
        for _ in range(1 if masses else int(rng.integers(1, 3))):
            side = "L" if rng.random() < 0.5 else "R"
            sweeps.append((f"{side} UOQ SURVEY", survey(rng, n_frames())))
    return sweeps[:MAX_SEQUENCES]


def _site(rng: np.random.Generator) -> str:
    return f"{'L' if rng.random() < 0.5 else 'R'} {int(rng.integers(1, 13))}:00"


def _draw_identity(seed: int, index: int, taken: set[str]) -> tuple[Identity, np.random.Generator]:
    """Patient ``index``'s identity (redrawn while its folder name is ``taken``, then taken) and
    the generator that draws the rest of the patient."""
    rng = np.random.default_rng([seed, index])
    identity = make_identity(rng)
    while identity.folder in taken:
        identity = make_identity(rng)
    taken.add(identity.folder)
    return identity, rng


def identities(seed: int, patients: int) -> list[Identity]:
    """The fake identities a study of ``patients`` with ``seed`` plants, in patient order."""
    taken: set[str] = set()
    return [_draw_identity(seed, index, taken)[0] for index in range(1, patients + 1)]


def _write_patient(
    out: Path, settings: Settings, index: int, bank: SpeckleBank, taken: set[str]
) -> tuple[list[list[object]], int]:
    """Write one patient's files under ``out``; return annotation rows and frames written."""
    identity, rng = _draw_identity(settings.seed, index, taken)
    layout = make_layout(rng, settings.rows, settings.columns)
    encoding = ENCODING_CYCLE[(index + settings.seed) % len(ENCODING_CYCLE)]
    colour = TEXT_COLOURS[index % len(TEXT_COLOURS)]
    rows: list[list[object]] = []
    n_frames = 0
    acquired = identity.study_time
    for number, (label, plan) in enumerate(
        _plan_patient(rng, settings.frames, layout.image_shape[1]), start=1
    ):
        image, boxes = render(rng, plan, layout.image_shape, bank)
        frame_time = 1000.0 / rng.uniform(18, 47)
        acquired += timedelta(seconds=int(rng.integers(40, 300)))
        series = Series(
            number=number,
            description=f"{label}",
            frame_time_ms=frame_time,
            comment=_comment(identity, label, bool(plan.masses)),
            acquired=acquired,
            probe_mhz=float(rng.choice([8.0, 10.0, 12.0])),
        )
        burned = _burned(layout, identity, series)
        frames = compose(layout, image, burned, colour if encoding in _COLOUR else None)
        name = f"{identity.folder}/{acquired:%Y%m%d}_{number:04d}.dcm"
        write_cine(out / name, frames, identity, series, layout, settings.seed, encoding)
        x0, y0 = layout.region[:2]
        for lesion_id, per_frame in boxes.items():
            rows += [
                [name, t, lesion_id, b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0]
                for t, b in enumerate(per_frame)
                if b is not None
            ]
        n_frames += len(frames)
    return rows, n_frames


_COLOUR = {"jpeg_ybr", "explicit_rgb", "rle_rgb"}


def _comment(identity: Identity, label: str, has_mass: bool) -> str:
    family = identity.ascii_name.split("^")[0].title()
    finding = "mass, measure" if has_mass else "no focal lesion"
    return f"{label}: {finding}. Pt {family} prior imaging at {identity.institution}"


def _burned(layout: Layout, identity: Identity, series: Series) -> np.ndarray:
    lines = banner_lines(
        identity.shown_name,
        identity.patient_id,
        f"{identity.birth_date:%Y%m%d}",
        f"{identity.study_time:%Y%m%d}",
        f"{identity.study_time:%H%M%S}",
        identity.institution,
    )
    preset = [
        "L12-5",
        f"{series.probe_mhz:g}MHz",
        f"D{layout.depth_cm:g}",
        f"FR{round(1000 / series.frame_time_ms)}",
    ]
    return overlay(layout, lines, preset, focus_cm=layout.depth_cm * 0.5)


def simulate(out: str | Path, settings: Settings) -> dict[str, float]:
    """Write the study to ``out`` (built in a temporary sibling, then renamed); return a summary."""
    import pandas as pd

    from dynbus.io.atomic import write_csv

    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DynbusError(f"{target}: output folder exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        bank = SpeckleBank(
            np.random.default_rng([settings.seed, 0]), (settings.rows, settings.columns)
        )
        rows: list[list[object]] = []
        taken: set[str] = set()
        n_frames = n_files = 0
        for index in range(1, settings.patients + 1):
            patient_rows, patient_frames = _write_patient(staging, settings, index, bank, taken)
            rows += patient_rows
            n_frames += patient_frames
        n_files = sum(1 for _ in staging.rglob("*.dcm"))
        write_csv(staging / "annotations.csv", pd.DataFrame(rows, columns=ANNOTATION_COLUMNS))
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "patients": settings.patients,
        "sequences": n_files,
        "frames": n_frames,
        "boxes": len(rows),
        "seconds": time.perf_counter() - start,
    }
