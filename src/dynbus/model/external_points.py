"""``dynbus external-points``: a package's frozen thresholds applied unchanged to external data.

``--points`` is the package's ``operating_points.csv`` (thresholds chosen on the development val
split, :mod:`dynbus.model.operating_points`). Each threshold is applied as it is to the external
site's detections (``--test``); the output has the same columns: the development ``val_*`` values
copied, and the external TP, FN, FP, sensitivity with its Wilson 95 % CI and the FP per sequence
actually reached, which may differ from the target rate: the threshold was not set on these data.
"""

from __future__ import annotations

import argparse

import pandas as pd

from dynbus import config as study_config
from dynbus.errors import InputFileError
from dynbus.io.atomic import write_csv
from dynbus.io.csv_input import read_csv_checked
from dynbus.model.operating_points import COLUMNS, applied
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.inputs import load_sequences
from dynbus.protocol.sweep import METHODS, SequenceData

DEVELOPMENT = [name for name in COLUMNS if name.startswith("val_")]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus external-points``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", required=True, help="the package's operating_points.csv")
    parser.add_argument("--test", required=True, help="detections CSV of the external data")
    parser.add_argument("--annotations", required=True, help="the external annotations.csv")
    parser.add_argument("--manifest", required=True, help="the external splits.csv (all test)")
    parser.add_argument("--out", required=True, help="operating_points.csv to write (atomic)")
    study_config.add_config_argument(parser)
    return parser


def apply_points(
    points: pd.DataFrame, seqs: list[SequenceData], fusion: FusionSettings
) -> pd.DataFrame:
    """``points`` with their test columns recomputed on ``seqs`` at the same thresholds."""
    rows = []
    for point in points.itertuples(index=False):
        rows.append(
            [
                point.iou, point.fp_rate, point.method, point.threshold,
                *(getattr(point, name) for name in DEVELOPMENT),
                *applied(seqs, point.method, fusion, point.threshold, point.iou),
            ]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def main(args: argparse.Namespace) -> None:
    """Apply the frozen thresholds of ``args.points`` to ``args.test``, write ``args.out``."""
    config = study_config.load(args.config)
    points = read_csv_checked(args.points, COLUMNS)[COLUMNS]
    unknown = sorted(set(points["method"]) - set(METHODS))
    if unknown:
        raise InputFileError(args.points, f"unknown method {unknown[0]!r}")
    pick, seed = config["single_frame"]["pick"], config["single_frame"]["seed"]
    seqs = load_sequences(args.test, args.annotations, args.manifest, "test", pick, seed)
    write_csv(args.out, apply_points(points, seqs, FusionSettings.from_config(config["fusion"])))
