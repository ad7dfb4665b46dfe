"""``dynbus import``: read a COCO-VID, video or CVAT raw folder into the DICOM path's contract.

Writes what ``dynbus manifest`` writes (private manifest, public ``results/manifest.csv``, skip
reports), the boxes in the raw annotation layout (``file, frame, lesion_id, x1, y1, x2, y2``,
privately, for ``dynbus annotations`` to re-key and validate) and one private decoding spec per
sequence (``SPECS/{sequence_id}.json``) for ``dynbus import-frames``. With ``--frames DIR`` it
also writes every sequence's frames (what the workflow does per sequence).
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from dynbus import config as study_config
from dynbus.deid.pseudonyms import (
    file_pseudonym,
    load_or_create_key,
    patient_pseudonym,
    sequence_pseudonym,
)
from dynbus.errors import DynbusError, NothingUsable
from dynbus.ingest.annotations import RAW_COLUMNS, SOURCE_COLUMNS
from dynbus.ingest.manifest import PRIVATE_COLUMNS, public_manifest
from dynbus.ingest.sources import cocovid, cvat, video
from dynbus.ingest.sources.common import Problems, Scan, SourceSequence
from dynbus.ingest.sources.decode import prepare_sequence, write_sequence
from dynbus.io.atomic import atomic_dir, write_csv, write_json

FORMATS = ("cocovid", "video", "cvat")


def scan_source(
    fmt: str, raw_dir: Path, settings: dict[str, Any], on_bad_input: str, annotations: Path | None
) -> Scan:
    """Run the reader of ``fmt`` over ``raw_dir``."""
    if not raw_dir.is_dir():
        raise DynbusError(f"{raw_dir}: raw folder not found")
    problems = Problems(on_bad_input)
    if fmt == "cocovid":
        return cocovid.scan(raw_dir, settings, problems)
    if fmt == "video":
        return video.scan(raw_dir, settings, problems, annotations)
    if fmt == "cvat":
        return cvat.scan(raw_dir, settings, problems)
    raise DynbusError(f"source.format {fmt!r}: dynbus import reads {', '.join(FORMATS)}")


def manifests(scan: Scan, key: bytes) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(private manifest, public manifest, private skip report) of a scan; the manifests are
    empty when no sequence is usable."""
    rows, seen = [], set()
    for sequence in scan.sequences:
        if sequence.sequence_key in seen:
            scan.problems.add(sequence.file, "listed twice (e.g. in two JSON files)")
            continue
        seen.add(sequence.sequence_key)
        rows.append(
            {
                "file": sequence.file,
                "sequence_id": sequence_pseudonym(key, sequence.sequence_key),
                "patient_id": patient_pseudonym(key, sequence.patient_key),
                "position": 0,
                "frame_offset": 0,
                "n_frames": sequence.n_frames,
                "rows": sequence.rows,
                "columns": sequence.columns,
            }
        )
    private = pd.DataFrame(rows, columns=[*PRIVATE_COLUMNS, "rows", "columns"])
    private = private.sort_values("sequence_id").reset_index(drop=True)
    skipped = pd.DataFrame(scan.problems.rows, columns=["file", "problem", "detail"])
    skipped.insert(1, "file_id", [file_pseudonym(key, file) for file in skipped["file"]])
    return private, public_manifest(private), skipped


def decoding_specs(scan: Scan, private: pd.DataFrame, raw_dir: Path) -> dict[str, dict[str, Any]]:
    """Per sequence pseudonym: what ``dynbus import-frames`` needs (holds raw names: private)."""
    by_file: dict[str, SourceSequence] = {sequence.file: sequence for sequence in scan.sequences}
    specs = {}
    for row in private.itertuples():
        sequence = by_file[row.file]
        specs[row.sequence_id] = {
            "sequence_id": row.sequence_id,
            "raw_dir": str(raw_dir.resolve()),
            "frames": sequence.frames,
            "n_frames": sequence.n_frames,
            "rows": sequence.rows,
            "columns": sequence.columns,
            "frame_time_ms": sequence.frame_time_ms,
        }
    return specs


def write_all_frames(
    specs: dict[str, dict[str, Any]],
    frames_dir: Path,
    audit_dir: Path | None,
    deid: dict[str, Any],
    workers: int,
) -> None:
    """Every sequence's frames (and audit); the next sequence decodes while this one is written."""
    ids = list(specs)
    with ThreadPoolExecutor(max_workers=1) as loader:

        def load(position: int) -> Future | None:
            if position >= len(ids):
                return None
            return loader.submit(prepare_sequence, specs[ids[position]], deid, workers)

        pending = load(0)
        for position, sequence_id in enumerate(ids):
            cleaned, meta, audit = pending.result()
            pending = load(position + 1)
            write_sequence(frames_dir / sequence_id, cleaned, meta, workers)
            if audit_dir is not None:
                write_json(audit_dir / f"{sequence_id}.json", {"pixels": audit})


def get_args_parser() -> argparse.ArgumentParser:
    """Arguments of ``dynbus import``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw_dir", type=Path, help="raw folder (image root, videos or CVAT tasks)")
    parser.add_argument("--format", choices=FORMATS, default=None, help="default: source.format")
    parser.add_argument("--key", required=True, type=Path, help="linkage key (created if missing)")
    parser.add_argument("--private", required=True, type=Path, help="private manifest CSV")
    parser.add_argument("--out", required=True, type=Path, help="public manifest CSV")
    parser.add_argument("--skipped", type=Path, default=None, help="public skip report CSV")
    parser.add_argument(
        "--boxes", required=True, type=Path, help="private raw-layout annotations CSV (output)"
    )
    parser.add_argument(
        "--specs", required=True, type=Path, help="private folder of per-sequence decoding specs"
    )
    parser.add_argument(
        "--annotations", type=Path, default=None, help="video format: raw annotations.csv"
    )
    parser.add_argument("--frames", type=Path, default=None, help="also write all frames here")
    parser.add_argument("--audit-dir", type=Path, default=None, help="with --frames: audits here")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="threads")
    study_config.add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Scan the raw folder, write manifests, boxes and specs (and frames with ``--frames``)."""
    cfg = study_config.load(args.config)
    fmt = args.format or cfg["source"]["format"]
    if cfg["deid"]["fallback_box"] is None:
        raise DynbusError(
            "imported frames have no ultrasound regions: set deid.fallback_box to the image "
            "area to keep ([0, 0, 100000, 100000] keeps whole frames that carry no text)"
        )
    key = load_or_create_key(args.key)
    scan = scan_source(fmt, args.raw_dir, cfg["source"], cfg["on_bad_input"], args.annotations)
    private, public, skipped = manifests(scan, key)
    report = args.private.with_name("skipped_inputs.csv")
    write_csv(report, skipped)
    if args.skipped is not None:
        write_csv(args.skipped, skipped[["file_id", "problem"]])
    if private.empty:
        first = skipped.iloc[0] if len(skipped) else None
        raise NothingUsable(
            "sequence",
            f"{len(skipped)} inputs were skipped",
            None if first is None else (first["file_id"], first["problem"]),
            report,
        )
    specs = decoding_specs(scan, private, args.raw_dir)
    with atomic_dir(args.specs) as tmp:
        for sequence_id, spec in specs.items():
            write_json(tmp / f"{sequence_id}.json", spec)
    write_csv(args.boxes, pd.DataFrame(scan.boxes, columns=RAW_COLUMNS + SOURCE_COLUMNS))
    write_csv(args.private, private[PRIVATE_COLUMNS])
    write_csv(args.out, public)
    if args.frames is not None:
        write_all_frames(specs, args.frames, args.audit_dir, cfg["deid"], args.workers)
    print(
        f"{len(public)} {fmt} sequences of {public['patient_id'].nunique()} patients, "
        f"{len(scan.boxes)} boxes; {len(skipped)} inputs skipped"
    )
