"""``dynbus external-model``: what external validation takes from a model package.

Reads a package (folder or archive, :func:`dynbus.model.package.load_package`) and writes, into
``--out``, the files the external-validation rules read in place of the study's training:

    detector.pt              the package's weights (``models/model.pt``), read by ``dynbus infer``
    config.yaml              the package's config sections (model, input size, score floor,
                             single-frame pick, fusion, evaluation), the ``--config`` of the
                             inference and evaluation stages: the model is run as it was frozen
    operating_points.csv     the thresholds frozen on the development val split (every hit IoU)
    development_froc.csv     the development test FROC (``docs/froc.csv``; only its header when
                             the package has none)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_open, atomic_path, write_csv
from dynbus.io.csv_input import read_csv_checked
from dynbus.model.package import load_package
from dynbus.reporting.frozen import POINT_COLUMNS

POINTS = "configs/operating_points.csv"
FROC = "docs/froc.csv"
FROC_COLUMNS = ["method", "iou", "threshold", "tp", "fn", "fp", "fp_per_sequence", "sensitivity"]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus external-model``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help="model package folder or archive (dynbus package)")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the files into")
    return parser


def main(args: argparse.Namespace) -> None:
    """Unpack what the external validation needs from ``args.package`` into ``args.out``."""
    with tempfile.TemporaryDirectory() as workdir:
        package = load_package(args.package, Path(workdir))
        points_file = package.root / POINTS
        if not points_file.is_file():
            raise InputFileError(args.package, f"not a model package (no {POINTS})")
        points = read_csv_checked(points_file, POINT_COLUMNS)
        froc_file = package.root / FROC
        froc = (
            read_csv_checked(froc_file, FROC_COLUMNS)
            if froc_file.is_file()
            else pd.DataFrame(columns=FROC_COLUMNS)
        )
        args.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out / "detector.pt") as tmp:
            shutil.copyfile(package.weights, tmp)
        with atomic_open(args.out / "config.yaml", encoding="utf-8") as handle:
            handle.write(yaml.safe_dump(package.config, sort_keys=True))
        write_csv(args.out / "operating_points.csv", points)
        write_csv(args.out / "development_froc.csv", froc)
    print(
        f"dynbus external-model: {len(package.operating_points)} frozen operating points, "
        f"development FROC {'included' if len(froc) else 'absent'} -> {args.out}"
    )
