"""``dynbus deidentify INPUT [INPUT ...] OUTPUT --key KEYFILE [--audit FILE]``.

One input and an OUTPUT ending in ``.dcm``: OUTPUT is the de-identified file. Otherwise OUTPUT is
a directory that receives ``000000.dcm, 000001.dcm, ...`` in the inputs' order. Nothing is
written unless every input is de-identified.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from dynbus import config as dynbus_config
from dynbus.deid.audit import Audit
from dynbus.deid.burned_text import ocr_setting
from dynbus.deid.deidentify import deidentify_dataset
from dynbus.deid.keep import KEEP_KEYWORDS
from dynbus.deid.profile import TABLE_VERSION
from dynbus.deid.pseudonyms import load_or_create_key
from dynbus.errors import DynbusError, InputFileError
from dynbus.io.atomic import atomic_dir, atomic_path, write_json
from dynbus.io.dicom_io import read_dicom


def get_args_parser() -> argparse.ArgumentParser:
    """Parser of ``dynbus deidentify``."""
    parser = argparse.ArgumentParser(
        description="De-identify ultrasound DICOM files: PS3.15 Annex E Table E.1-1 plus a "
        "keep-list, keyed pseudonyms, UIDs and dates, pixels outside the ultrasound regions "
        "blanked, burned-in text inside them found (static pixels + OCR) and blanked.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="raw DICOM file(s)")
    parser.add_argument(
        "output",
        type=Path,
        metavar="OUTPUT",
        help="output .dcm file (one input) or directory (receives 000000.dcm, ...)",
    )
    parser.add_argument(
        "--key", required=True, type=Path, help="linkage key file (created on first use)"
    )
    parser.add_argument("--audit", type=Path, help="write the audit record (JSON) here")
    dynbus_config.add_config_argument(parser)
    return parser


def _deidentify_file(
    path: Path, out: Path, key: bytes, settings: dict[str, Any]
) -> tuple[Dataset, Audit]:
    """De-identify ``path`` into ``out``; return the de-identified dataset and its audit."""
    ds = read_dicom(path)
    audit = Audit(output=out.name)
    try:
        deidentify_dataset(ds, key, settings, audit)
    except InputFileError:
        raise
    except DynbusError as error:
        raise InputFileError(path, str(error)) from error
    ds.save_as(out, enforce_file_format=True)
    return ds, audit


def audit_record(settings: dict[str, Any], audits: list[Audit]) -> dict[str, Any]:
    """The audit JSON of one output (file or sequence folder), with the outputs whose
    burned-in text was not checked (they keep BurnedInAnnotation YES)."""
    return {
        "profile": f"DICOM PS3.15 Annex E Table E.1-1 ({TABLE_VERSION})",
        "dates": settings["dates"],
        "other_public_attributes": f"removed unless on the keep-list of "
        f"{len(KEEP_KEYWORDS)} (dynbus.deid.keep)",
        "burned_in_text_not_checked": [audit.output for audit in audits if _unchecked(audit)],
        "files": [audit.as_dict() for audit in audits],
    }


def _unchecked(audit: Audit) -> str | None:
    """Why the burned-in text of ``audit``'s file was not checked, or None when it was."""
    check = audit.pixels.get("burned_in_text", {})
    if check.get("checked", True):
        return None
    if check.get("mode") == "off":
        return "deid.burned_in_text: off"
    return f"{check['cue']}; OCR {check['ocr']}"


def report_unchecked(inputs: list[Path], audits: list[Audit]) -> None:
    """One line on stderr per input whose burned-in text could not be checked."""
    for path, audit in zip(inputs, audits, strict=True):
        why = _unchecked(audit)
        if why is not None:
            print(f"dynbus deidentify: {path}: burned-in text not checked ({why}); "
                  "written with BurnedInAnnotation YES", file=sys.stderr)  # fmt: skip


def deidentify_sequence(
    inputs: list[Path], outdir: Path, key: bytes, settings: dict[str, Any], audit: Path | None
) -> tuple[list[Dataset], list[Audit]]:
    """De-identify ``inputs`` into ``outdir`` (``000000.dcm, ...``) and write the audit.

    Nothing is written unless every input is de-identified. Returns the de-identified datasets
    in input order, so a caller can go on without reading them back, and their audits.
    """
    datasets: list[Dataset] = []
    audits: list[Audit] = []
    with atomic_dir(outdir) as tmp_dir:
        for index, path in enumerate(inputs):
            ds, file_audit = _deidentify_file(path, tmp_dir / f"{index:06d}.dcm", key, settings)
            datasets.append(ds)
            audits.append(file_audit)
    if audit is not None:
        write_json(audit, audit_record(settings, audits))
    return datasets, audits


def main(args: argparse.Namespace) -> None:
    """Run ``dynbus deidentify``."""
    settings = dynbus_config.load(args.config)["deid"]
    ocr_setting(settings)
    key = load_or_create_key(args.key)
    if len(args.inputs) > 1 or args.output.suffix.lower() != ".dcm":
        _, audits = deidentify_sequence(args.inputs, args.output, key, settings, args.audit)
        report_unchecked(args.inputs, audits)
        return
    with atomic_path(args.output) as tmp:
        _, audit = _deidentify_file(args.inputs[0], tmp, key, settings)
        audit.output = args.output.name
    if args.audit is not None:
        write_json(args.audit, audit_record(settings, [audit]))
    report_unchecked(args.inputs, [audit])
