"""``dynbus manifest``: find the raw sequences and give each a keyed pseudonym.

Reads only DICOM headers. A sequence is one multi-frame file, or the single-frame files of one
series (ordered by InstanceNumber). Two tables come out:

- the **private** manifest (linkage folder, never under ``results/``): raw file → sequence,
  patient pseudonym and frame offset — what re-keys annotations and feeds de-identification;
- the **public** manifest (``results/manifest.csv``): pseudonyms, frame counts and sizes only.

With ``--links`` each raw file also gets a pseudonymous symlink there,
``<sequence_id>/<position>.dcm``, through which the later steps read it. The private files are
created owner-only (0600 / 0700).

Unusable files stop the run with an error naming the file, or with ``on_bad_input: skip`` are
listed in a skip report (privately with their path, publicly by file pseudonym).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dynbus import config as study_config
from dynbus.atomic import write_csv
from dynbus.dicom_io import read_header
from dynbus.errors import DynbusError, InputFileError
from dynbus.linkage import link_raw_files, private_files
from dynbus.pseudonyms import (
    file_pseudonym,
    load_or_create_key,
    patient_pseudonym,
    sequence_pseudonym,
)

NON_DICOM_SUFFIXES = {".csv", ".txt", ".json", ".md", ".xml", ".pdf", ".png", ".jpg"}
PRIVATE_COLUMNS = ["file", "sequence_id", "patient_id", "position", "frame_offset", "n_frames"]
PUBLIC_COLUMNS = ["sequence_id", "patient_id", "n_frames", "rows", "columns", "n_files"]


@dataclass(frozen=True)
class RawFile:
    """Header facts of one raw DICOM file (kept in memory only: they hold PHI)."""

    file: str
    patient_key: str
    series_uid: str
    instance_uid: str
    instance_number: int
    n_frames: int
    rows: int
    columns: int


def candidate_files(raw_dir: Path) -> list[Path]:
    """Every file under ``raw_dir`` that should be DICOM (``*.dcm`` or no suffix), sorted."""
    files = [
        path
        for path in raw_dir.rglob("*")
        if path.is_file()
        and not path.name.startswith(".")
        and path.name != "DICOMDIR"
        and path.suffix.lower() not in NON_DICOM_SUFFIXES
    ]
    return sorted(files)


def read_raw_file(path: Path, raw_dir: Path) -> RawFile:
    """Read and check one raw file's header; raise InputFileError if it is unusable."""
    header = read_header(path)
    return RawFile(
        file=path.relative_to(raw_dir).as_posix(),
        patient_key=str(header.PatientID),
        series_uid=str(header.SeriesInstanceUID),
        instance_uid=str(header.SOPInstanceUID),
        instance_number=int(header.get("InstanceNumber") or 0),
        n_frames=int(header.get("NumberOfFrames") or 1),
        rows=int(header.Rows),
        columns=int(header.Columns),
    )


def group_sequences(files: list[RawFile], key: bytes) -> pd.DataFrame:
    """Assign files to sequences; return the private manifest (one row per raw file)."""
    rows = []
    by_series: dict[str, list[RawFile]] = {}
    for raw in files:
        by_series.setdefault(raw.series_uid, []).append(raw)
    for series_uid, members in by_series.items():
        if len(members) > 1 and any(m.n_frames > 1 for m in members):
            groups = [([m], f"{series_uid}/{m.instance_uid}") for m in members]
        else:
            groups = [(sorted(members, key=lambda m: (m.instance_number, m.file)), series_uid)]
        for group, sequence_key in groups:
            offset = 0
            for position, raw in enumerate(group):
                rows.append(
                    {
                        "file": raw.file,
                        "sequence_id": sequence_pseudonym(key, sequence_key),
                        "patient_id": patient_pseudonym(key, raw.patient_key),
                        "position": position,
                        "frame_offset": offset,
                        "n_frames": raw.n_frames,
                        "rows": raw.rows,
                        "columns": raw.columns,
                    }
                )
                offset += raw.n_frames
    private = pd.DataFrame(rows, columns=[*PRIVATE_COLUMNS, "rows", "columns"])
    mixed = private.groupby("sequence_id")["patient_id"].nunique()
    if (mixed > 1).any():
        raise DynbusError(
            f"{int((mixed > 1).sum())} series mix several PatientIDs; fix the raw export"
        )
    return private.sort_values(["sequence_id", "position"]).reset_index(drop=True)


def public_manifest(private: pd.DataFrame) -> pd.DataFrame:
    """Per-sequence table with pseudonyms only."""
    grouped = private.groupby("sequence_id", sort=True)
    public = grouped.agg(
        patient_id=("patient_id", "first"),
        n_frames=("n_frames", "sum"),
        rows=("rows", "first"),
        columns=("columns", "first"),
        n_files=("file", "size"),
    ).reset_index()
    return public[PUBLIC_COLUMNS]


def build_manifest(
    raw_dir: Path, key: bytes, on_bad_input: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Scan ``raw_dir``: return (private manifest, public manifest, skipped files)."""
    if not raw_dir.is_dir():
        raise DynbusError(f"{raw_dir}: raw folder not found")
    good: list[RawFile] = []
    skipped = []
    for path in candidate_files(raw_dir):
        try:
            good.append(read_raw_file(path, raw_dir))
        except InputFileError as error:
            if on_bad_input == "error":
                raise
            relative = path.relative_to(raw_dir).as_posix()
            skipped.append(
                {
                    "file": relative,
                    "file_id": file_pseudonym(key, relative),
                    "problem": error.problem,
                }
            )
    if not good:
        raise DynbusError(f"{raw_dir}: no usable DICOM file found")
    private = group_sequences(good, key)
    skipped_frame = pd.DataFrame(skipped, columns=["file", "file_id", "problem"])
    return private, public_manifest(private), skipped_frame


def get_args_parser() -> argparse.ArgumentParser:
    """Arguments of ``dynbus manifest``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], add_help=True)
    parser.add_argument("raw_dir", type=Path, help="folder of raw DICOM cine loops")
    parser.add_argument("--key", required=True, type=Path, help="linkage key (created if missing)")
    parser.add_argument(
        "--private", required=True, type=Path, help="private manifest CSV (linkage folder)"
    )
    parser.add_argument("--out", required=True, type=Path, help="public manifest CSV")
    parser.add_argument(
        "--skipped", type=Path, default=None, help="public skip report CSV (file pseudonyms only)"
    )
    parser.add_argument(
        "--links", type=Path, default=None, help="folder of pseudonymous links to the raw files"
    )
    study_config.add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Write the private and public manifests (and the skip reports)."""
    cfg = study_config.load(args.config)
    with private_files():
        key = load_or_create_key(args.key)
    private, public, skipped = build_manifest(args.raw_dir, key, cfg["on_bad_input"])
    with private_files():
        write_csv(args.private, private[PRIVATE_COLUMNS])
        write_csv(args.private.with_name("skipped_inputs.csv"), skipped)
    if args.links is not None:
        link_raw_files(private, args.raw_dir, args.links)
    if args.skipped is not None:
        write_csv(args.skipped, skipped[["file_id", "problem"]])
    write_csv(args.out, public)
    print(
        f"{len(public)} sequences of {public['patient_id'].nunique()} patients "
        f"from {len(private)} files; {len(skipped)} files skipped"
    )
