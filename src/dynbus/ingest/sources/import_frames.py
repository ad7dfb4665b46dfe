"""``dynbus import-frames SPEC OUTDIR``: one imported sequence -> cleaned PNG frames + meta.json.

SPEC is the sequence's private decoding spec written by ``dynbus import``. The frames are decoded,
checked against the import's frame count and size, blanked outside ``deid.fallback_box`` and
written like ``dynbus frames`` writes DICOM frames; ``--audit`` records the pixel cleaning.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from dynbus import config as study_config
from dynbus.errors import InputFileError
from dynbus.ingest.sources.decode import import_sequence
from dynbus.io.atomic import write_json


def get_args_parser() -> argparse.ArgumentParser:
    """Arguments of ``dynbus import-frames``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spec", type=Path, metavar="SPEC", help="decoding spec from dynbus import")
    parser.add_argument("outdir", type=Path, metavar="OUTDIR", help="frame folder to write")
    parser.add_argument("--audit", type=Path, default=None, help="pixel-cleaning audit JSON")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="threads")
    study_config.add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Write the frames of one imported sequence."""
    deid = study_config.load(args.config)["deid"]
    try:
        spec = json.loads(args.spec.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(args.spec, f"unreadable decoding spec ({error})") from error
    audit = import_sequence(spec, args.outdir, deid, args.workers)
    if args.audit is not None:
        write_json(args.audit, {"pixels": audit})
