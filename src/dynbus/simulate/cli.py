"""``dynbus simulate``: write the synthetic breast-ultrasound study (DICOM + annotations.csv)."""

from __future__ import annotations

import argparse

from dynbus.config import add_config_argument, load
from dynbus.deid.pseudonyms import create_key, demo_key
from dynbus.errors import DynbusError


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus simulate``; --seed / --patients override the config's ``simulate``."""
    parser = argparse.ArgumentParser(
        description="Write synthetic breast-ultrasound cine loops as real DICOM, in folders "
        "named after fake patients, and DIR/annotations.csv (file,frame,lesion_id,x1,y1,x2,y2)."
    )
    parser.add_argument("--out", required=True, help="output folder (must not exist, or be empty)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (config simulate.seed)")
    parser.add_argument(
        "--patients", type=int, default=None, help="number of patients (config simulate.patients)"
    )
    parser.add_argument(
        "--linkage-key",
        default=None,
        help="also write the synthetic study's public linkage key here (derived from the seed, "
        "so the demo's pseudonyms, split and tables are the same on every machine); an existing "
        "file holding another key is an error, never overwritten",
    )
    add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Run the simulation and print a one-line summary."""
    from dynbus.simulate.study import Settings, simulate

    section = load(args.config)["simulate"]
    patients = section["patients"] if args.patients is None else args.patients
    if patients < 1:
        raise DynbusError(f"--patients must be at least 1, got {patients}")
    low, high = section["frames"]
    if low > high:
        raise DynbusError(f"simulate.frames: minimum {low} exceeds maximum {high}")
    settings = Settings(
        seed=section["seed"] if args.seed is None else args.seed,
        patients=patients,
        frames=(low, high),
        rows=section["rows"],
        columns=section["columns"],
    )
    if args.linkage_key is not None:
        create_key(args.linkage_key, demo_key(settings.seed))
    summary = simulate(args.out, settings)
    print(
        f"dynbus simulate: {summary['patients']} patients, {summary['sequences']} sequences, "
        f"{summary['frames']} frames, {summary['boxes']} boxes -> {args.out} "
        f"in {summary['seconds']:.1f} s"
    )
