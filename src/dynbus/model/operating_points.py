"""``dynbus operating-points``: score thresholds frozen on the validation split, applied to test.

For each hit IoU, method (single, multi) and FP rate of ``evaluate``, the threshold is chosen on
the **val** detections exactly as ``dynbus evaluate`` chooses the test thresholds
(:func:`dynbus.protocol.evaluate.sweep_points`); that threshold is then applied unchanged to the
**test** detections. ``--out`` (one CSV) holds, per row, the threshold, what it gives on val
(``val_*``) and on test: TP, FN, FP, sensitivity with its Wilson 95 % CI and the FP per sequence
actually reached (which may exceed the target: the threshold was not set on test).
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from dynbus import config as study_config
from dynbus.io.atomic import write_csv
from dynbus.protocol import stats
from dynbus.protocol.evaluate import sweep_points
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.inputs import load_sequences
from dynbus.protocol.sweep import METHODS, SequenceData, hits_at

COLUMNS = [
    "iou",
    "fp_rate",
    "method",
    "threshold",
    "val_tp",
    "val_fn",
    "val_fp",
    "val_sensitivity",
    "val_fp_per_sequence",
    "tp",
    "fn",
    "fp",
    "n_sequences",
    "sensitivity",
    "wilson_low",
    "wilson_high",
    "fp_per_sequence",
]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus operating-points``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--val", required=True, help="detections CSV of the val split")
    parser.add_argument("--test", required=True, help="detections CSV of the test split")
    parser.add_argument("--annotations", required=True, help="results/annotations.csv")
    parser.add_argument("--manifest", required=True, help="results/splits.csv")
    parser.add_argument("--out", required=True, help="operating_points.csv to write (atomic)")
    study_config.add_config_argument(parser)
    return parser


def frozen_counts(
    seqs: list[SequenceData], method: str, fusion: FusionSettings, threshold: float, iou: float
) -> tuple[int, int, int]:
    """``(TP, FN, FP)`` of ``method`` over ``seqs`` at a fixed score ``threshold``."""
    tp = fn = fp = 0
    for seq in seqs:
        hit, false = hits_at(seq, method, fusion, threshold, iou)
        tp += int(hit.sum())
        fn += int((~hit).sum())
        fp += false
    return tp, fn, fp


def applied(
    seqs: list[SequenceData], method: str, fusion: FusionSettings, threshold: float, iou: float
) -> list[float]:
    """The test columns of one operating point (``COLUMNS`` from ``tp`` on): ``threshold``
    applied unchanged to ``seqs``."""
    tp, fn, fp = frozen_counts(seqs, method, fusion, threshold, iou)
    low, high = stats.wilson(tp, tp + fn)
    sensitivity = tp / (tp + fn) if tp + fn else float("nan")
    return [tp, fn, fp, len(seqs), sensitivity, low, high, fp / len(seqs)]


def operating_points(
    val: list[SequenceData], test: list[SequenceData], config: dict[str, Any]
) -> pd.DataFrame:
    """One row per hit IoU x FP rate x method: the val threshold and its val and test counts."""
    fusion = FusionSettings.from_config(config["fusion"])
    rates = config["evaluate"]["fp_rates"]
    rows = []
    for iou, _, points in sweep_points(val, config):
        for m in METHODS:
            for rate, p in zip(rates, points[m], strict=True):
                rows.append(
                    [
                        iou, rate, m, p.threshold,
                        p.tp, p.fn, p.fp, p.sensitivity, p.fp / len(val),
                        *applied(test, m, fusion, p.threshold, iou),
                    ]
                )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def main(args: argparse.Namespace) -> None:
    """Freeze the thresholds on val, apply them to test, write ``args.out``."""
    config = study_config.load(args.config)
    pick, seed = config["single_frame"]["pick"], config["single_frame"]["seed"]
    val, test = (
        load_sequences(path, args.annotations, args.manifest, split, pick, seed)
        for path, split in ((args.val, "val"), (args.test, "test"))
    )
    write_csv(args.out, operating_points(val, test, config))
