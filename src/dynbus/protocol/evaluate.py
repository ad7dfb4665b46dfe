"""``dynbus evaluate``: single- vs multi-frame FROC evaluation, counts and statistics.

Reads detections, annotations and the split manifest; writes into ``--out``:
``counts.csv`` (one row per IoU x FP rate x method, DESIGN §3 columns), ``froc.csv`` (every
threshold of each method x IoU), ``froc_bands.csv`` (bootstrap 95 % band of the FROC curve),
``lesion_hits.csv`` (each lesion hit or not by each protocol at each operating point),
``stats.csv`` (χ², P, exact McNemar, Wilson and bootstrap CIs, with the fusion order),
``single_frames.csv`` (the drawn frames) and ``settings.json`` (the protocol settings used).
Same inputs and seeds give byte-identical files.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.io.atomic import write_csv, write_json
from dynbus.protocol import stats
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.inputs import load_sequences
from dynbus.protocol.sweep import (
    METHODS,
    Curve,
    OperatingPoint,
    SequenceData,
    curve,
    grid_scores,
    hits_at,
    operating_point,
    threshold_grid,
)

COUNTS_COLUMNS = [
    "iou",
    "fp_rate",
    "method",
    "tp",
    "fn",
    "fp",
    "sensitivity",
    "n_sequences",
    "threshold",
]
BAND_POINTS = 101


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus evaluate``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    parser.add_argument("--detections", required=True, help="detections CSV of one split")
    parser.add_argument("--annotations", required=True, help="results/annotations.csv")
    parser.add_argument("--manifest", required=True, help="results/splits.csv")
    parser.add_argument("--split", default=None, help="evaluate only this split of the manifest")
    parser.add_argument(
        "--out", required=True, help="output directory (each file written atomically)"
    )
    study_config.add_config_argument(parser)
    return parser


def sweep_points(
    seqs: list[SequenceData], config: dict[str, Any]
) -> Iterator[tuple[float, dict[str, Curve], dict[str, list[OperatingPoint]]]]:
    """For each ``evaluate.hit_iou``: each method's FROC curve over ``seqs`` and its operating
    points at the ``evaluate.fp_rates`` (the thresholds that reach them on these sequences)."""
    fusion = FusionSettings.from_config(config["fusion"])
    ev = config["evaluate"]
    n_lesions = sum(len(s.lesion_ids) for s in seqs)
    grids = {m: threshold_grid(grid_scores(seqs, m, fusion), ev["max_thresholds"]) for m in METHODS}
    for iou in ev["hit_iou"]:
        curves = {m: curve(seqs, m, fusion, grids[m], iou) for m in METHODS}
        points = {
            m: [operating_point(curves[m], n_lesions, float(r)) for r in ev["fp_rates"]]
            for m in METHODS
        }
        yield iou, curves, points


def evaluate(seqs: list[SequenceData], config: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """All evaluation tables, keyed by file stem."""
    fusion = FusionSettings.from_config(config["fusion"])
    ev = config["evaluate"]
    rates = np.asarray(ev["fp_rates"], dtype=float)
    lesions = np.array([len(s.lesion_ids) for s in seqs], dtype=float)
    patients, cluster = np.unique([s.patient_id for s in seqs], return_inverse=True)
    weights = stats.cluster_weights(len(patients), ev["bootstrap"], ev["seed"])[:, cluster]
    band_rates = np.linspace(0, 2 * rates.max(), BAND_POINTS)
    counts, froc, bands, hit_rows, stat_rows = [], [], [], [], []
    for iou, curves, points in sweep_points(seqs, config):
        boot = {
            m: _resampled(curves[m], weights, lesions, np.append(rates, band_rates))
            for m in METHODS
        }
        for m in METHODS:
            froc.append(_froc_rows(curves[m], m, iou, lesions.sum()))
            bands.append(
                _band_rows(curves[m], boot[m][:, len(rates) :], m, iou, lesions, band_rates)
            )
            counts += [
                [iou, r, m, p.tp, p.fn, p.fp, p.sensitivity, len(seqs), p.threshold]
                for r, p in zip(rates, points[m], strict=True)
            ]
        for k, rate in enumerate(rates):
            hit = {
                m: [hits_at(s, m, fusion, points[m][k].threshold, iou)[0] for s in seqs]
                for m in METHODS
            }
            hit_rows.append(_hit_rows(seqs, hit, iou, rate))
            flat = {m: np.concatenate(hit[m]) if hit[m] else np.zeros(0, bool) for m in METHODS}
            stat_rows.append(
                stat_row(
                    iou,
                    rate,
                    points["single"][k],
                    points["multi"][k],
                    flat,
                    boot["single"][:, k],
                    boot["multi"][:, k],
                    fusion,
                    ev,
                )
            )
    stat_table = pd.DataFrame(stat_rows)
    stat_table.insert(2, "n_sequences", len(seqs))
    stat_table.insert(3, "n_patients", len(patients))
    return {
        "counts": pd.DataFrame(counts, columns=COUNTS_COLUMNS),
        "froc": pd.concat(froc, ignore_index=True),
        "froc_bands": pd.concat(bands, ignore_index=True),
        "lesion_hits": pd.concat(hit_rows, ignore_index=True),
        "stats": stat_table,
        "single_frames": pd.DataFrame(
            {"sequence_id": [s.sequence_id for s in seqs], "frame": [s.drawn_frame for s in seqs]}
        ),
    }


def _resampled(c: Curve, weights: np.ndarray, lesions: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Bootstrap sensitivities ``(B, len(rates))``; the threshold is re-chosen per resample."""
    return stats.froc_envelope(
        weights @ c.tp, weights @ c.fp, weights @ lesions, weights.sum(axis=1), rates
    )


def _froc_rows(c: Curve, method: str, iou: float, n_lesions: float) -> pd.DataFrame:
    tp, fp, n = c.tp.sum(axis=0), c.fp.sum(axis=0), c.tp.shape[0]
    return pd.DataFrame(
        {
            "method": method,
            "iou": iou,
            "threshold": c.thresholds,
            "tp": tp,
            "fn": int(n_lesions) - tp,
            "fp": fp,
            "fp_per_sequence": fp / n,
            "sensitivity": tp / n_lesions if n_lesions else np.nan,
        }
    )


def _band_rows(
    c: Curve, boot: np.ndarray, method: str, iou: float, lesions: np.ndarray, band_rates: np.ndarray
) -> pd.DataFrame:
    ones = np.ones((1, c.tp.shape[0]))
    estimate = stats.froc_envelope(
        ones @ c.tp, ones @ c.fp, ones @ lesions, np.array([c.tp.shape[0]]), band_rates
    )[0]
    intervals = [stats.percentile_interval(boot[:, k]) for k in range(len(band_rates))]
    low, high = zip(*intervals, strict=True) if intervals else ((), ())
    return pd.DataFrame(
        {
            "method": method,
            "iou": iou,
            "fp_per_sequence": band_rates,
            "sensitivity": estimate,
            "low": low,
            "high": high,
        }
    )


def _hit_rows(
    seqs: list[SequenceData], hit: dict[str, list[np.ndarray]], iou: float, rate: float
) -> pd.DataFrame:
    rows = [
        [
            iou,
            rate,
            s.sequence_id,
            s.patient_id,
            lesion,
            int(hit["single"][i][k]),
            int(hit["multi"][i][k]),
        ]
        for i, s in enumerate(seqs)
        for k, lesion in enumerate(s.lesion_ids)
    ]
    return pd.DataFrame(
        rows,
        columns=["iou", "fp_rate", "sequence_id", "patient_id", "lesion_id", "single", "multi"],
    )


def stat_row(
    iou: float,
    rate: float,
    single: Any,
    multi: Any,
    hit: dict[str, np.ndarray],
    boot_single: np.ndarray,
    boot_multi: np.ndarray,
    fusion: FusionSettings,
    ev: dict[str, Any],
) -> dict[str, Any]:
    """One row of ``stats.csv``: both operating points (anything with ``tp``, ``fn`` and
    ``sensitivity``), their paired lesion hits and bootstrap sensitivities."""
    chi2, p = stats.pearson_chi2(single.fn, single.tp, multi.fn, multi.tp)
    mcnemar_p, only_single, only_multi = stats.mcnemar_exact(hit["single"], hit["multi"])
    row: dict[str, Any] = {"iou": iou, "fp_rate": rate}
    for name, point, boot in (("single", single, boot_single), ("multi", multi, boot_multi)):
        row[f"{name}_sensitivity"] = point.sensitivity
        row[f"{name}_wilson_low"], row[f"{name}_wilson_high"] = stats.wilson(
            point.tp, point.tp + point.fn
        )
        row[f"{name}_boot_low"], row[f"{name}_boot_high"] = stats.percentile_interval(boot)
    row["difference"] = multi.sensitivity - single.sensitivity
    row["difference_boot_low"], row["difference_boot_high"] = stats.percentile_interval(
        boot_multi - boot_single
    )
    row.update(
        {
            "chi2": chi2,
            "p": p,
            "mcnemar_p": mcnemar_p,
            "single_only": only_single,
            "multi_only": only_multi,
            "n_bootstrap": ev["bootstrap"],
            "fusion_order": fusion.order,
            "fusion_score": fusion.score,
            "fusion_link": fusion.link,
        }
    )
    return row


def main(args: argparse.Namespace) -> None:
    """Run the evaluation and write every table into ``args.out``."""
    config = study_config.load(args.config)
    seqs = load_sequences(
        args.detections,
        args.annotations,
        args.manifest,
        args.split,
        config["single_frame"]["pick"],
        config["single_frame"]["seed"],
    )
    tables = evaluate(seqs, config)
    settings = {key: config[key] for key in ("single_frame", "fusion", "evaluate")}
    settings.update(
        {
            "split": args.split,
            "n_sequences": len(seqs),
            "n_lesions": sum(len(s.lesion_ids) for s in seqs),
            "n_patients": len({s.patient_id for s in seqs}),
        }
    )
    out = Path(args.out)  # shared with the video-metrics and ablation stages: files, not the folder
    out.mkdir(parents=True, exist_ok=True)
    for stem, table in tables.items():
        write_csv(out / f"{stem}.csv", table)
    write_json(out / "settings.json", settings)
