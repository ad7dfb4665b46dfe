"""``dynbus manifest``: find the raw sequences and give each a keyed pseudonym.

Reads only DICOM headers. A sequence is one multi-frame file, or the single-frame files of one
series (ordered by InstanceNumber). Two tables come out:

- the **private** manifest (linkage folder, never under ``results/``): raw file → sequence,
  patient pseudonym and frame offset — what re-keys annotations and feeds de-identification;
- the **public** manifest (``results/manifest.csv``): pseudonyms, frame counts and sizes only.

Every file of the raw folder (bar the configured annotations file, ``--annotations``) ends in
the manifest or in the problem record. Unusable files (unreadable, truncated, NumberOfFrames not
matching the pixel data, a frame that does not decode, no ultrasound region to clean, a
SOPInstanceUID seen before (a duplicate export when the files are byte-identical, else a
conflict), a file without InstanceNumber in a single-frame series, a series mixing PatientIDs or
frame sizes) stop the run, or with ``on_bad_input: skip`` are left out; CD-export and system files
(``DICOMDIR``, ``AUTORUN.INF``, executables, thumbnails, hidden files) and documents are always
left out. Errors and reports name a raw file by its handle (``raw file 17/230``: its place in
the sorted raw folder) and file pseudonym; the private problem record beside the private
manifest (``problems.csv``, mode 0600) holds its path. File names are bytes: a name that is not
valid UTF-8 (Latin-1, GB18030) is carried as surrogate escapes and written back byte for byte.

With ``--links`` each raw file also gets a pseudonymous symlink there,
``<sequence_id>/<position>.dcm``, through which the later steps read it. The private files are
created owner-only (0600 / 0700).
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dynbus import config as study_config
from dynbus.batch import process_map
from dynbus.deid.pixels import clip_box, ultrasound_regions
from dynbus.deid.pseudonyms import (
    file_pseudonym,
    load_or_create_key,
    patient_pseudonym,
    sequence_pseudonym,
)
from dynbus.errors import DynbusError, InputFileError, NothingUsable
from dynbus.ingest.linkage import link_raw_files, private_files
from dynbus.io.atomic import write_csv
from dynbus.io.dicom_io import check_frames, integer_value, number_of_frames, read_header

NON_DICOM_SUFFIXES = {".csv", ".txt", ".json", ".md", ".xml", ".pdf", ".png", ".jpg"}
SYSTEM_NAMES = {"dicomdir", "autorun.inf", "thumbs.db", "desktop.ini"}
SYSTEM_SUFFIXES = {".exe", ".dll", ".inf", ".ini", ".bat", ".com", ".sys", ".htm", ".html", ".ico"}
SNAKEMAKE_MARKER = ".snakemake_timestamp"  # written into directory outputs (the demo folder)
PROBLEM_COLUMNS = ["handle", "file_id", "file", "problem"]
PUBLIC_PROBLEM_COLUMNS = ["handle", "file_id", "problem"]
PRIVATE_COLUMNS = ["file", "sequence_id", "patient_id", "position", "frame_offset", "n_frames"]
PUBLIC_COLUMNS = ["sequence_id", "patient_id", "n_frames", "rows", "columns", "n_files"]


@dataclass(frozen=True)
class RawFile:
    """Header facts of one raw DICOM file (kept in memory only: they hold PHI)."""

    file: str
    patient_key: str
    series_uid: str
    instance_uid: str
    instance_number: int | None
    n_frames: int
    rows: int
    columns: int


class BadInputs(DynbusError):
    """Unusable raw files with ``on_bad_input: error``; ``problems`` lists them all."""

    def __init__(self, message: str, problems: pd.DataFrame) -> None:
        super().__init__(message)
        self.problems = problems


def raw_files(raw_dir: Path, annotations: Path | None = None) -> list[Path]:
    """Every file under ``raw_dir`` but Snakemake's marker and the configured ``annotations``
    file, sorted (the rank is the handle)."""
    found = sorted(
        path for path in raw_dir.rglob("*") if path.is_file() and path.name != SNAKEMAKE_MARKER
    )
    if annotations is None or not annotations.is_file():
        return found
    return [path for path in found if not os.path.samefile(path, annotations)]


def ignored_reason(path: Path) -> str | None:
    """Why ``path`` is not read as DICOM at all (a CD-export/system file, a document), or None."""
    name = path.name.lower()
    if name in SYSTEM_NAMES or name.startswith(".") or path.suffix.lower() in SYSTEM_SUFFIXES:
        return f"ignored: CD-export or system file ({path.suffix.lower() or name}), not an image"
    if path.suffix.lower() in NON_DICOM_SUFFIXES:
        return f"ignored: {path.suffix.lower()} document, not DICOM"
    return None


def read_raw_file(path: Path, raw_dir: Path, fallback_box: Sequence[int] | None = None) -> RawFile:
    """Read and check one raw file (header, every frame, an ultrasound region to clean).

    Raises InputFileError if it is unusable.
    """
    header = read_header(path)
    check_frames(header, path)
    rows, columns = int(header.Rows), int(header.Columns)
    fallback = clip_box(fallback_box, rows, columns) if fallback_box is not None else None
    if not ultrasound_regions(header) and fallback is None:
        raise InputFileError(
            path,
            "no SequenceOfUltrasoundRegions inside the frame and no deid.fallback_box "
            "configured: cannot clean burned-in annotations",
        )
    return RawFile(
        file=path.relative_to(raw_dir).as_posix(),
        patient_key=str(header.PatientID),
        series_uid=str(header.get("SeriesInstanceUID", "")),
        instance_uid=str(header.SOPInstanceUID),
        instance_number=integer_value(header, "InstanceNumber", path, None),
        n_frames=number_of_frames(header, path),
        rows=rows,
        columns=columns,
    )


def file_digest(path: Path) -> str:
    """sha256 of the bytes of ``path``."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _single_frame_series(members: list[RawFile]) -> bool:
    """Whether a series' files form one sequence (single-frame files) rather than one each."""
    return len(members) == 1 or all(m.n_frames == 1 for m in members)


def find_conflicts(files: list[RawFile], handles: dict[str, str], raw_dir: Path) -> dict[str, str]:
    """Problems between readable files: ``{file: problem}``.

    A SOPInstanceUID seen before (sorted order) is a duplicate export when the two files are
    byte-identical, else a conflict (the first file is kept either way; only such files are read
    again, to compare their bytes); every file of a series mixing PatientIDs, or of a single-frame
    series mixing frame sizes, is unusable, and so is a file without InstanceNumber in a
    single-frame series of several files (its place unknown).
    """
    problems: dict[str, str] = {}
    first: dict[str, RawFile] = {}
    by_series: dict[str, list[RawFile]] = {}
    for raw in files:
        if raw.instance_uid in first:
            kept = first[raw.instance_uid]
            problems[raw.file] = (
                f"duplicate export: same SOPInstanceUID as raw file {handles[kept.file]}"
                if file_digest(raw_dir / raw.file) == file_digest(raw_dir / kept.file)
                else f"conflict: same SOPInstanceUID as raw file {handles[kept.file]} but "
                f"different contents; raw file {handles[kept.file]} was kept"
            )
            continue
        first[raw.instance_uid] = raw
        by_series.setdefault(raw.series_uid, []).append(raw)
    for members in by_series.values():
        patients = {m.patient_key for m in members}
        sizes = {(m.rows, m.columns) for m in members}
        if len(patients) > 1:
            for m in members:
                problems[m.file] = (
                    f"its series mixes {len(patients)} PatientIDs across {len(members)} files"
                )
        elif len(sizes) > 1 and _single_frame_series(members):
            for m in members:
                problems[m.file] = f"its single-frame series mixes frame sizes {sorted(sizes)}"
        elif len(members) > 1 and _single_frame_series(members):
            for m in members:
                if m.instance_number is None:
                    problems[m.file] = (
                        f"no InstanceNumber in a single-frame series of {len(members)} files: "
                        "its place in the frame order is unknown"
                    )
    return problems


def group_sequences(files: list[RawFile], key: bytes) -> pd.DataFrame:
    """Assign files to sequences; return the private manifest (one row per raw file)."""
    rows = []
    by_series: dict[str, list[RawFile]] = {}
    for raw in files:
        by_series.setdefault(raw.series_uid, []).append(raw)
    for series_uid, members in by_series.items():
        if not _single_frame_series(members):
            groups = [([m], f"{series_uid}/{m.instance_uid}") for m in members]
        else:
            groups = [(sorted(members, key=lambda m: (m.instance_number or 0, m.file)), series_uid)]
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


def _scan(job: tuple[Path, Path, Sequence[int] | None]) -> RawFile | tuple[str, bool]:
    """One raw file read and checked, or why it is left out and whether that is fatal."""
    path, raw_dir, fallback_box = job
    reason = ignored_reason(path)
    if reason is not None:
        return reason, False
    try:
        return read_raw_file(path, raw_dir, fallback_box)
    except InputFileError as error:
        return error.problem, True


def find_problems(
    raw_dir: Path,
    key: bytes,
    fallback_box: Sequence[int] | None,
    workers: int = 1,
    annotations: Path | None = None,
) -> tuple[list[RawFile], pd.DataFrame]:
    """Read every raw file but ``annotations`` (in ``workers`` processes): ``(usable files,
    problem table)``; ``fatal`` marks unusable files."""
    return scan_files(raw_files(raw_dir, annotations), raw_dir, key, fallback_box, workers)


def scan_files(
    paths: list[Path],
    raw_dir: Path,
    key: bytes,
    fallback_box: Sequence[int] | None,
    workers: int = 1,
) -> tuple[list[RawFile], pd.DataFrame]:
    """Read the raw files ``paths`` (under ``raw_dir``, sorted: the rank is the handle) in
    ``workers`` processes: ``(usable files, problem table)``; ``fatal`` marks unusable files."""
    names = [path.relative_to(raw_dir).as_posix() for path in paths]
    handles = {name: f"{rank}/{len(names)}" for rank, name in enumerate(names, 1)}
    good: list[RawFile] = []
    found: dict[str, tuple[str, bool]] = {}
    scanned = process_map(_scan, [(path, raw_dir, fallback_box) for path in paths], workers)
    for name, outcome in zip(names, scanned, strict=True):
        if isinstance(outcome, RawFile):
            good.append(outcome)
        else:
            found[name] = outcome
    conflicts = find_conflicts(good, handles, raw_dir)
    found.update({name: (problem, True) for name, problem in conflicts.items()})
    rows = [
        [handles[name], file_pseudonym(key, name), name, *found[name]]
        for name in names
        if name in found
    ]
    problems = pd.DataFrame(rows, columns=[*PROBLEM_COLUMNS, "fatal"]).astype({"fatal": bool})
    return [raw for raw in good if raw.file not in conflicts], problems


def build_manifest(
    raw_dir: Path,
    key: bytes,
    on_bad_input: str,
    fallback_box: Sequence[int] | None = None,
    record: Path | None = None,
    workers: int = 1,
    annotations: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Scan ``raw_dir`` (bar the configured ``annotations`` file): return (private manifest,
    public manifest, problem table); the manifests are empty when no file is usable.

    The problem table (every file left out, with its path) is written to ``record`` (mode
    0600) when given. With ``on_bad_input: error`` an unusable file raises ``BadInputs``, whose
    one-line message names the first by handle and points to ``record``.
    """
    if not raw_dir.is_dir():
        raise DynbusError(f"{raw_dir}: raw folder not found")
    good, problems = find_problems(raw_dir, key, fallback_box, workers, annotations)
    if record is not None:
        with private_files():
            write_csv(record, problems[PROBLEM_COLUMNS])
    fatal = problems[problems["fatal"]]
    if len(fatal) and on_bad_input == "error":
        first = fatal.iloc[0]
        where = f" (see {record})" if record is not None else f" ({first['file']})"
        more = f"; {len(fatal) - 1} more unusable files" if len(fatal) > 1 else ""
        raise BadInputs(
            f"raw file {first['handle']}{where}: {first['problem']}{more}; "
            "fix the raw folder or set on_bad_input: skip",
            problems,
        )
    private = group_sequences(good, key)
    return private, public_manifest(private), problems[PROBLEM_COLUMNS]


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
        "--skipped", type=Path, default=None, help="public skip report CSV (handles, pseudonyms)"
    )
    parser.add_argument(
        "--links", type=Path, default=None, help="folder of pseudonymous links to the raw files"
    )
    parser.add_argument("--threads", type=int, default=1, help="processes reading the files")
    parser.add_argument(
        "--annotations",
        type=Path,
        default=None,
        help="the configured annotations file: not a raw input when it lies in the raw folder",
    )
    study_config.add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Write the private and public manifests (and the skip reports)."""
    cfg = study_config.load(args.config)
    record = args.private.with_name("problems.csv")
    with private_files():
        key = load_or_create_key(args.key)
        private, public, skipped = build_manifest(
            args.raw_dir,
            key,
            cfg["on_bad_input"],
            cfg["deid"]["fallback_box"],
            record,
            args.threads,
            args.annotations,
        )
    if args.skipped is not None:
        write_csv(args.skipped, skipped[PUBLIC_PROBLEM_COLUMNS])
    if private.empty:
        first = skipped.iloc[0] if len(skipped) else None
        raise NothingUsable(
            "DICOM file",
            f"{len(skipped)} files were left out",
            None if first is None else (f"raw file {first['handle']}", first["problem"]),
            record,
        )
    with private_files():
        write_csv(args.private, private[PRIVATE_COLUMNS])
    if args.links is not None:
        link_raw_files(private, args.raw_dir, args.links)
    write_csv(args.out, public)
    print(
        f"{len(public)} sequences of {public['patient_id'].nunique()} patients "
        f"from {len(private)} files; {len(skipped)} files left out (see {record})"
    )
