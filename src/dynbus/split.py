"""``dynbus split``: a seeded, patient-disjoint train / val / test split.

Patients are shuffled with a seeded RNG and cut by the configured fractions (largest-remainder
rounding, so the paper's fractions give exactly 411 / 51 / 44 of 506 patients). Every split gets
at least one patient; no patient is in two splits (asserted). With ``--duplicates`` (the report
of ``dynbus duplicates``), patients whose sequences share near-duplicate frames are one unit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.atomic import write_csv
from dynbus.csv_input import read_csv_checked
from dynbus.duplicates import split_units
from dynbus.errors import DynbusError

SPLITS = ("train", "val", "test")
SPLIT_COLUMNS = ["sequence_id", "patient_id", "split", "n_frames", "n_lesions"]
MERGED_COLUMN = "patients_merged_for_duplicates"


def split_sizes(n_patients: int, fractions: dict[str, float]) -> dict[str, int]:
    """Patients per split: largest-remainder rounding of the fractions, at least one each."""
    if n_patients < len(SPLITS):
        raise DynbusError(f"{n_patients} patients cannot fill {len(SPLITS)} splits")
    total = sum(fractions[name] for name in SPLITS)
    if not np.isclose(total, 1.0, atol=1e-3):
        raise DynbusError(f"split fractions sum to {total:.4f}, not 1")
    exact = np.array([fractions[name] / total * n_patients for name in SPLITS])
    sizes = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - sizes), kind="stable")[: n_patients - sizes.sum()]:
        sizes[index] += 1
    while (sizes == 0).any():
        sizes[np.argmax(sizes)] -= 1
        sizes[np.argmin(sizes)] += 1
    return dict(zip(SPLITS, sizes.tolist(), strict=True))


def assign_splits(manifest: pd.DataFrame, fractions: dict[str, float], seed: int) -> pd.DataFrame:
    """Return ``manifest`` with a ``split`` column, patient-disjoint."""
    patients = np.array(sorted(manifest["patient_id"].unique()))
    order = np.random.default_rng(seed).permutation(len(patients))
    sizes = split_sizes(len(patients), fractions)
    labels = np.repeat(list(sizes), list(sizes.values()))
    patient_split = dict(zip(patients[order], labels, strict=True))
    assigned = manifest.assign(split=manifest["patient_id"].map(patient_split))
    per_patient = assigned.groupby("patient_id")["split"].nunique()
    assert (per_patient == 1).all(), "a patient landed in two splits"
    return assigned


def summarize(splits: pd.DataFrame, units: pd.Series | None = None) -> pd.DataFrame:
    """Patients, sequences, masses and frames per split (the paper's §1 summary); with the
    split ``units`` per row, also how many patients were merged with another one."""
    rows = []
    for name in [*SPLITS, "total"]:
        part = splits if name == "total" else splits[splits["split"] == name]
        rows.append(
            {
                "split": name,
                "patients": part["patient_id"].nunique(),
                "sequences": len(part),
                "sequences_with_mass": int((part["n_lesions"] > 0).sum()),
                "masses": int(part["n_lesions"].sum()),
                "frames": int(part["n_frames"].sum()),
            }
        )
        if units is not None:
            merged = units[part.index].to_numpy() != part["patient_id"].to_numpy()
            heads = set(units[part.index][merged])
            rows[-1][MERGED_COLUMN] = len(set(part["patient_id"][merged]) | heads)
    return pd.DataFrame(rows)


def make_splits(
    manifest: pd.DataFrame,
    annotations: pd.DataFrame,
    fractions: dict[str, float],
    seed: int,
    duplicates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The split table: one row per sequence with its split and lesion count."""
    lesions = annotations.groupby("sequence_id")["lesion_id"].nunique().rename("n_lesions")
    table = manifest.merge(lesions, left_on="sequence_id", right_index=True, how="left")
    table["n_lesions"] = table["n_lesions"].fillna(0).astype(int)
    table = table.sort_values("sequence_id")
    units = split_units(table["patient_id"], duplicates)
    table["split"] = assign_splits(table.assign(patient_id=units), fractions, seed)["split"]
    return table[SPLIT_COLUMNS].reset_index(drop=True)


def get_args_parser() -> argparse.ArgumentParser:
    """Arguments of ``dynbus split``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True, type=Path, help="public manifest CSV")
    parser.add_argument("--annotations", required=True, type=Path, help="re-keyed annotations CSV")
    parser.add_argument("--out", required=True, type=Path, help="splits CSV")
    parser.add_argument("--summary", type=Path, default=None, help="per-split summary CSV")
    parser.add_argument(
        "--duplicates", type=Path, default=None, help="report of dynbus duplicates (merge patients)"
    )
    study_config.add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Write the split table and its summary."""
    cfg = study_config.load(args.config)["split"]
    manifest = pd.read_csv(args.manifest)
    annotations = pd.read_csv(args.annotations, dtype={"lesion_id": str})
    duplicates = None
    if args.duplicates is not None:
        duplicates = read_csv_checked(args.duplicates, ["patient_a", "patient_b"])
    splits = make_splits(manifest, annotations, cfg["fractions"], cfg["seed"], duplicates)
    units = None if duplicates is None else split_units(splits["patient_id"], duplicates)
    summary = summarize(splits, units)
    write_csv(args.out, splits)
    if args.summary is not None:
        write_csv(args.summary, summary)
    print(summary.to_string(index=False))
