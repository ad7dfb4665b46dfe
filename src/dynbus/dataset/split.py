"""``dynbus split``: a seeded, patient-disjoint train / val / test split.

Patients are shuffled with a seeded RNG and cut by the configured fractions (largest-remainder
rounding, so the paper's fractions give exactly 411 / 51 / 44 of 506 patients). Every split gets
at least one patient; no patient is in two splits (asserted). With ``--duplicates`` (the report
of ``dynbus duplicates``), patients whose sequences share near-duplicate frames are one unit.

With ``split.folds: k > 1`` (k-fold cross-validation), the units are shuffled once and dealt into
k test folds (sizes differ by at most one), so every patient is tested exactly once; ``--fold i``
writes fold i's table: its test fold, a val set of ``round(val fraction x patients)`` units drawn
(seeded per fold) from the other folds, and the rest as train. The test fraction is then unused.

``--all-test`` puts every sequence in test: an external site's data, evaluated without training.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.dataset.duplicates import split_units
from dynbus.errors import DynbusError
from dynbus.io.atomic import write_csv
from dynbus.io.csv_input import read_csv_checked

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


def check_folds(n_units: int, folds: int) -> None:
    """Refuse a fold count that leaves a fold without test patients, or train / val empty."""
    if folds > n_units:
        raise DynbusError(
            f"split.folds = {folds} leaves a fold without test patients: there are only "
            f"{n_units} patients (near-duplicate groups count once)"
        )
    if folds > 1 and n_units - -(-n_units // folds) < 2:
        raise DynbusError(
            f"split.folds = {folds}: {n_units} patients leave no train and val patients "
            "beside a test fold"
        )


def fold_of_units(units: np.ndarray, folds: int, seed: int) -> dict[str, int]:
    """The test fold (1..k) of each unit: a seeded shuffle dealt into k near-equal folds."""
    units = np.array(sorted(set(units)))
    check_folds(len(units), folds)
    order = np.random.default_rng(seed).permutation(len(units))
    return {
        unit: fold
        for fold, chunk in enumerate(np.array_split(units[order], folds), start=1)
        for unit in chunk
    }


def assign_fold_splits(
    manifest: pd.DataFrame, fractions: dict[str, float], seed: int, folds: int, fold: int
) -> pd.DataFrame:
    """Return ``manifest`` with fold ``fold``'s ``split`` column: test = that fold, val drawn
    from the other folds with the val fraction (of all units, at least one), train the rest."""
    fold_of = fold_of_units(manifest["patient_id"].to_numpy(), folds, seed)
    rest = np.array(sorted(unit for unit, f in fold_of.items() if f != fold))
    n_val = min(max(1, round(fractions["val"] * len(fold_of))), len(rest) - 1)
    val = set(rest[np.random.default_rng([seed, fold]).permutation(len(rest))[:n_val]])
    labels = {
        unit: "test" if f == fold else "val" if unit in val else "train"
        for unit, f in fold_of.items()
    }
    return manifest.assign(split=manifest["patient_id"].map(labels))


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


def with_lesion_counts(manifest: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """The manifest sorted by sequence, with each sequence's number of lesions (``n_lesions``)."""
    lesions = annotations.groupby("sequence_id")["lesion_id"].nunique().rename("n_lesions")
    table = manifest.merge(lesions, left_on="sequence_id", right_index=True, how="left")
    table["n_lesions"] = table["n_lesions"].fillna(0).astype(int)
    return table.sort_values("sequence_id")


def make_splits(
    manifest: pd.DataFrame,
    annotations: pd.DataFrame,
    fractions: dict[str, float],
    seed: int,
    duplicates: pd.DataFrame | None = None,
    folds: int = 1,
    fold: int = 1,
) -> pd.DataFrame:
    """The split table: one row per sequence with its split and lesion count (of fold ``fold``
    of ``folds``; one fold is the single split)."""
    table = with_lesion_counts(manifest, annotations)
    units = split_units(table["patient_id"], duplicates)
    if not 1 <= fold <= folds:
        raise DynbusError(f"fold {fold} is not one of 1..{folds} (split.folds)")
    by_unit = table.assign(patient_id=units)
    if folds == 1:
        table["split"] = assign_splits(by_unit, fractions, seed)["split"]
    else:
        table["split"] = assign_fold_splits(by_unit, fractions, seed, folds, fold)["split"]
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
    parser.add_argument(
        "--fold", type=int, default=1, help="which of the split.folds folds to write (1..k)"
    )
    parser.add_argument(
        "--all-test",
        action="store_true",
        help="put every sequence in test (external validation: no training, no val)",
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
    if args.all_test:
        splits = with_lesion_counts(manifest, annotations).assign(split="test")[SPLIT_COLUMNS]
        splits = splits.reset_index(drop=True)
    else:
        fractions, seed, folds = cfg["fractions"], cfg["seed"], cfg["folds"]
        splits = make_splits(manifest, annotations, fractions, seed, duplicates, folds, args.fold)
    units = None if duplicates is None else split_units(splits["patient_id"], duplicates)
    summary = summarize(splits, units)
    write_csv(args.out, splits)
    if args.summary is not None:
        write_csv(args.summary, summary)
    print(summary.to_string(index=False))
