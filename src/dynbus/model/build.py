"""``dynbus package``: the model package of a study, its archive and its card.

Writes ``--out`` (a MONAI-bundle-style folder, :mod:`dynbus.model.package`): ``models/model.pt``
(the trained detector), ``configs/model.yaml`` (the study's config sections and the thresholds
frozen on val at the smallest ``evaluate.hit_iou``), ``configs/metadata.json`` (MONAI bundle
metadata fields), ``configs/operating_points.csv``, ``docs/README.md`` (the model card,
:mod:`dynbus.model.card`) and, when given, ``docs/froc.csv`` (the test FROC, the development
curve of an external validation), ``provenance/fingerprint.json`` and
``provenance/environment.json``; then ``--archive`` (one zip, the same bytes for the same
package) and ``--card-html`` (the card for the Snakemake report).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dynbus import __version__
from dynbus import config as study_config
from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_open
from dynbus.io.csv_input import read_csv_checked
from dynbus.model.card import CardInputs, card_html, failure_modes, lesion_sizes, model_card
from dynbus.model.package import OperatingPoint, model_yaml, write_archive, write_package
from dynbus.reporting.frozen import POINT_COLUMNS, both_ways
from dynbus.reporting.tables import read_counts

SPLIT_SUMMARY_COLUMNS = ["split", "patients", "sequences", "masses", "frames"]
HIT_COLUMNS = ["iou", "fp_rate", "sequence_id", "lesion_id", "single", "multi"]
BOX_COLUMNS = ["sequence_id", "lesion_id", "x1", "y1", "x2", "y2"]
ID_TYPES = {"sequence_id": str, "lesion_id": str}


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus package``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="results/model/detector.pt")
    parser.add_argument("--points", required=True, help="operating_points.csv")
    parser.add_argument("--counts", required=True, help="counts.csv of dynbus evaluate (test)")
    parser.add_argument("--split-summary", required=True, help="reports/split_summary.csv")
    parser.add_argument("--hits", required=True, help="lesion_hits.csv of dynbus evaluate")
    parser.add_argument("--annotations", required=True, help="results/annotations.csv")
    parser.add_argument("--froc", default=None, help="froc.csv of dynbus evaluate, if any")
    parser.add_argument("--fingerprint", default=None, help="fingerprints/stages.json, if any")
    parser.add_argument("--environment", default=None, help="provenance/environment.json")
    parser.add_argument("--out", required=True, help="package folder (replaced whole)")
    parser.add_argument("--archive", required=True, help="the package as one zip")
    parser.add_argument("--card-html", required=True, help="the model card as an HTML page")
    study_config.add_config_argument(parser)
    return parser


def frozen_thresholds(points: pd.DataFrame, iou: float) -> list[OperatingPoint]:
    """The package's operating points: the val thresholds at hit IoU ``iou``."""
    part = points[np.isclose(points["iou"], iou)]
    return [
        OperatingPoint(r.method, float(r.fp_rate), float(r.threshold)) for r in part.itertuples()
    ]


def _versions(environment: str | None) -> dict[str, str]:
    """Installed package versions: the run's environment record, else this interpreter's."""
    if environment is not None:
        return json.loads(Path(environment).read_text(encoding="utf-8"))["packages"]
    found = {}
    for name in ("torch", "torchvision", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


def bundle_metadata(config: dict[str, Any], versions: dict[str, str]) -> dict[str, Any]:
    """``configs/metadata.json``: the MONAI bundle metadata fields (no ``monai_version``: the
    package needs dynbus, not MONAI)."""
    model = config["model"]
    source = "synthetic (dynbus simulate)" if config["simulate"]["enabled"] else "study export"
    return {
        "version": __version__,
        "changelog": {__version__: f"trained and packaged by dynbus {__version__}"},
        "pytorch_version": versions.get("torch", "unknown"),
        "numpy_version": versions.get("numpy", "unknown"),
        "required_packages_version": {
            "dynbus": __version__,
            "torchvision": versions.get("torchvision", "unknown"),
        },
        "task": "Mass detection in breast-ultrasound cine loops (per frame, fused across frames)",
        "description": (
            f"Faster R-CNN {model['arch']} detecting breast masses in each frame; boxes fused "
            "across the frames of a sequence (dynbus multi-frame protocol)"
        ),
        "authors": "the study's authors (dynbus pipeline)",
        "copyright": "the study's authors; weights trained on the study's data",
        "intended_use": "research only; not for clinical use",
        "data_source": source,
        "data_type": config["source"]["format"],
        "network_data_format": {
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "magnitude",
                    "modality": "US",
                    "num_channels": 1,
                    "spatial_shape": ["*", "*"],
                    "resize": {"min_size": model["min_size"], "max_size": model["max_size"]},
                    "dtype": "uint8",
                    "value_range": [0, 255],
                    "is_patch_data": False,
                    "channel_def": {"0": "gray"},
                }
            },
            "outputs": {
                "pred": {
                    "type": "object",
                    "format": "boxes and scores",
                    "boxes": "x1, y1, x2, y2 in input pixels (float32)",
                    "scores": "mass probability in [0, 1] (float32)",
                    "score_floor": config["infer"]["score_floor"],
                }
            },
        },
    }


def _read_points(path: str) -> pd.DataFrame:
    points = read_csv_checked(path, POINT_COLUMNS)
    if points.empty:
        raise InputFileError(path, "no operating point")
    return points


def main(args: argparse.Namespace) -> None:
    """Write the package folder, its archive and the card's HTML page."""
    for given in (args.model, args.froc, args.fingerprint, args.environment):
        if given is not None and not Path(given).is_file():
            raise InputFileError(given, "file not found")
    config = study_config.load(args.config)
    points = _read_points(args.points)
    counts = read_counts(args.counts)
    iou = min(config["evaluate"]["hit_iou"])
    rates = sorted(config["evaluate"]["fp_rates"])
    middle = (iou, rates[len(rates) // 2])
    hits = read_csv_checked(args.hits, HIT_COLUMNS, dtype=ID_TYPES)
    boxes = read_csv_checked(args.annotations, BOX_COLUMNS, dtype=ID_TYPES)
    frozen = frozen_thresholds(points, iou)
    fingerprint = None
    if args.fingerprint is not None:
        fingerprint = hashlib.sha256(Path(args.fingerprint).read_bytes()).hexdigest()
    card = model_card(
        CardInputs(
            config=config,
            version=__version__,
            split_summary=read_csv_checked(args.split_summary, SPLIT_SUMMARY_COLUMNS)[
                SPLIT_SUMMARY_COLUMNS
            ],
            both_ways=both_ways(counts, points),
            thresholds=pd.DataFrame([vars(p) for p in frozen]),
            threshold_iou=iou,
            missed=failure_modes(hits, lesion_sizes(boxes), *middle),
            middle=middle,
            fingerprint=fingerprint,
        )
    )
    meta = {"dynbus_version": __version__, "threshold_iou": iou, "study_fingerprint": fingerprint}
    files: dict[str, Path | str | bytes] = {
        "configs/metadata.json": json.dumps(
            bundle_metadata(config, _versions(args.environment)), indent=2
        )
        + "\n",
        "configs/operating_points.csv": Path(args.points),
        "docs/README.md": card,
    }
    if args.froc is not None:
        files["docs/froc.csv"] = Path(args.froc)  # the development curve (external validation)
    for name, given in (("fingerprint", args.fingerprint), ("environment", args.environment)):
        if given is not None:
            files[f"provenance/{name}.json"] = Path(given)
    write_package(Path(args.out), Path(args.model), model_yaml(config, frozen, meta), files)
    write_archive(Path(args.out), Path(args.archive))
    with atomic_open(args.card_html, encoding="utf-8") as handle:
        handle.write(card_html(card))
