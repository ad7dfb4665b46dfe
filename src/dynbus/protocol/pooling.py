"""``dynbus pool``: k-fold cross-validation results pooled over the test folds.

Each fold's operating points (score thresholds at the configured FP rates) are set on that fold's
own test detections by ``dynbus evaluate``. Pooling sums the folds' counts (pooled sensitivity =
all hits / all lesions, the paper's χ² on the summed table), concatenates the paired lesion hits
(one exact McNemar on the summed discordant pairs) and reports each sensitivity's mean ± SE
across folds beside (as UltraDet does). Writes into ``--out``: ``counts.csv`` (pooled; the
threshold is empty, it is per fold), ``fold_counts.csv`` (every fold's counts), ``fold_summary.csv``
(mean and SE across folds), ``lesion_hits.csv`` (with the fold), ``stats.csv`` (the columns of
``dynbus evaluate``'s; the bootstrap resamples patients of all folds at the folds' thresholds) and
``froc_bands.csv`` (the pooled FROC curve, the folds' curves weighted by their lesions; no band).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.errors import InputFileError
from dynbus.io.atomic import write_csv
from dynbus.io.csv_input import read_csv_checked
from dynbus.protocol import stats
from dynbus.protocol.evaluate import COUNTS_COLUMNS, stat_row
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.sweep import METHODS, OperatingPoint

KEYS = ["iou", "fp_rate", "method"]
HIT_COLUMNS = ["iou", "fp_rate", "patient_id", "single", "multi"]
BAND_COLUMNS = ["method", "iou", "fp_per_sequence", "sensitivity"]
# The files of each fold's dynbus evaluate folder that pooling reads, with the columns it needs.
INPUT_COLUMNS = {
    "counts": COUNTS_COLUMNS,
    "stats": ["n_sequences", "n_patients"],
    "lesion_hits": HIT_COLUMNS,
    "froc_bands": BAND_COLUMNS,
}
ID_TYPES = {"sequence_id": str, "patient_id": str, "lesion_id": str}


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus pool``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--folds", required=True, nargs="+", help="each fold's output folder of dynbus evaluate"
    )
    parser.add_argument("--out", required=True, help="output directory (each file atomic)")
    study_config.add_config_argument(parser)
    return parser


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The folds' tables one after the other, each row with its fold (1..k) first."""
    return pd.concat(
        [part.assign(fold=k).set_index("fold").reset_index() for k, part in enumerate(parts, 1)],
        ignore_index=True,
    )


def pool_counts(fold_counts: pd.DataFrame) -> pd.DataFrame:
    """Counts summed over the folds per IoU x FP rate x method (``COUNTS_COLUMNS``)."""
    pooled = fold_counts.groupby(KEYS, sort=False)[["tp", "fn", "fp", "n_sequences"]].sum()
    pooled = pooled.reset_index()
    lesions = pooled["tp"] + pooled["fn"]
    pooled["sensitivity"] = (pooled["tp"] / lesions).where(lesions > 0)
    pooled["threshold"] = np.nan
    return pooled[COUNTS_COLUMNS]


def fold_summary(fold_counts: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error (SD / √k) of the folds' sensitivities per IoU x FP rate x method."""
    grouped = fold_counts.groupby(KEYS, sort=False)["sensitivity"]
    summary = grouped.agg(n_folds="count", mean_sensitivity="mean", sd="std").reset_index()
    summary["se_sensitivity"] = summary.pop("sd") / np.sqrt(summary["n_folds"])
    return summary


def pooled_curve(bands: list[pd.DataFrame], fold_counts: pd.DataFrame) -> pd.DataFrame:
    """The pooled FROC curve: at each FP-per-sequence rate the folds' hits (sensitivity x
    lesions) summed over all lesions; ``low``/``high`` empty (no pooled band)."""
    keys = ["fold", "method", "iou"]
    lesions = fold_counts.assign(lesions=fold_counts["tp"] + fold_counts["fn"])
    lesions = lesions.drop_duplicates(keys)[[*keys, "lesions"]]
    curves = _concat([band[BAND_COLUMNS] for band in bands]).merge(lesions, on=keys, how="left")
    curves["hits"] = curves["sensitivity"].fillna(0) * curves["lesions"]
    pooled = curves.groupby(["method", "iou", "fp_per_sequence"], sort=False)[["hits", "lesions"]]
    pooled = pooled.sum().reset_index()
    pooled["sensitivity"] = (pooled["hits"] / pooled["lesions"]).where(pooled["lesions"] > 0)
    return pooled[BAND_COLUMNS].assign(low=np.nan, high=np.nan)


def _boot(hits: pd.DataFrame, weights: np.ndarray, patients: pd.Index) -> dict[str, np.ndarray]:
    """Bootstrap sensitivities ``(B,)`` per method at fixed thresholds, patients resampled."""
    per_patient = hits.groupby("patient_id")[list(METHODS)].agg(["sum", "count"])
    per_patient = per_patient.reindex(patients, fill_value=0)
    out = {}
    for method in METHODS:
        found = weights @ per_patient[(method, "sum")].to_numpy(float)
        total = weights @ per_patient[(method, "count")].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[method] = np.where(total > 0, found / total, np.nan)
    return out


def pooled_stats(
    counts: pd.DataFrame,
    hits: pd.DataFrame,
    fold_stats: list[pd.DataFrame],
    config: dict[str, Any],
) -> pd.DataFrame:
    """``stats.csv`` of the pooled counts: Wilson CIs and the paper's χ² on the sums, exact
    McNemar on all folds' paired hits, a patient bootstrap at the folds' thresholds."""
    fusion = FusionSettings.from_config(config["fusion"])
    ev = config["evaluate"]
    patients = pd.Index(sorted(hits["patient_id"].unique()))
    weights = stats.cluster_weights(len(patients), ev["bootstrap"], ev["seed"])
    rows = []
    for (iou, rate), part in counts.groupby(["iou", "fp_rate"], sort=False):
        point = {
            m: OperatingPoint(-1, np.nan, int(r.tp), int(r.fn), int(r.fp), float(r.sensitivity))
            for m, r in part.set_index("method").iterrows()
        }
        paired = hits[np.isclose(hits["iou"], iou) & np.isclose(hits["fp_rate"], rate)]
        flat = {m: paired[m].to_numpy(bool) for m in METHODS}
        boot = _boot(paired, weights, patients)
        rows.append(
            stat_row(
                iou,
                rate,
                point["single"],
                point["multi"],
                flat,
                boot["single"],
                boot["multi"],
                fusion,
                ev,
            )
        )
    table = pd.DataFrame(rows)
    for position, column in ((2, "n_sequences"), (3, "n_patients")):
        table.insert(position, column, sum(int(part[column].iloc[0]) for part in fold_stats))
    return table


def pool(folders: list[str | Path], config: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Every pooled table, keyed by file stem, from the folds' ``dynbus evaluate`` folders."""
    if len(folders) < 2:
        raise InputFileError(folders[0] if folders else "--folds", "pooling needs two folds")
    fold = {
        stem: [
            read_csv_checked(Path(folder) / f"{stem}.csv", columns, dtype=ID_TYPES)
            for folder in folders
        ]
        for stem, columns in INPUT_COLUMNS.items()
    }
    fold_counts = _concat(fold["counts"])
    hits = _concat(fold["lesion_hits"])
    counts = pool_counts(fold_counts)
    return {
        "counts": counts,
        "fold_counts": fold_counts,
        "fold_summary": fold_summary(fold_counts),
        "lesion_hits": hits,
        "stats": pooled_stats(counts, hits, fold["stats"], config),
        "froc_bands": pooled_curve(fold["froc_bands"], fold_counts),
    }


def main(args: argparse.Namespace) -> None:
    """Pool the folds and write every table into ``args.out``."""
    tables = pool(args.folds, study_config.load(args.config))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stem, table in tables.items():
        write_csv(out / f"{stem}.csv", table)
