"""``dynbus predict``'s inputs: DICOM and video files in, de-identified frames out.

The study's own data path, function for function: DICOM files are read and checked and grouped
into sequences by ``dynbus.ingest.manifest`` (one multi-frame file, or the single-frame files of
one series; pseudonyms from the key and the SeriesInstanceUID, as in the study), de-identified
and split into frames by ``dynbus.ingest.prepare.prepare_sequence``; videos are probed, decoded,
cleaned and written by ``dynbus.ingest.sources`` (pseudonym from ``video:<path>``, the path
relative to the inputs' common folder). Frames land in ``frames/<sequence_id>/`` of a work folder.

A bad input raises one line naming the file (``error``), or (``skip``) is left out and listed:
publicly by its file pseudonym, privately with its path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dynbus.deid.pseudonyms import file_pseudonym, sequence_pseudonym
from dynbus.errors import DynbusError, InputFileError
from dynbus.ingest.manifest import group_sequences, raw_files, scan_files
from dynbus.ingest.prepare import prepare_sequence
from dynbus.ingest.sources.common import VIDEO_SUFFIXES
from dynbus.ingest.sources.decode import prepare_sequence as prepare_imported
from dynbus.ingest.sources.decode import write_sequence
from dynbus.ingest.sources.video import probe

LINKAGE_COLUMNS = ["file", "file_id", "sequence_id", "problem"]
SKIPPED_COLUMNS = ["file_id", "problem"]


@dataclass
class Prepared:
    """What the inputs gave: sequences with their frame counts, and the linkage of every file."""

    root: Path
    key: bytes
    on_bad_input: str
    sequences: dict[str, int] = field(default_factory=dict)
    linkage: list[dict[str, str]] = field(default_factory=list)

    def link(self, name: str, sequence_id: str) -> None:
        """Record that input ``name`` (relative to ``root``) went into ``sequence_id``."""
        self.linkage.append(self._row(name, sequence_id, ""))

    def bad(self, name: str, problem: str) -> None:
        """An unusable input: raise (``error``) or record it as skipped (``skip``)."""
        if self.on_bad_input == "error":
            raise InputFileError(self.root / name, f"{problem}; fix it or use --on-bad-input skip")
        self.left_out(name, problem)

    def left_out(self, name: str, problem: str) -> None:
        """Record input ``name`` as left out (a document or system file in a folder)."""
        self.linkage.append(self._row(name, "", problem))

    def _row(self, name: str, sequence_id: str, problem: str) -> dict[str, str]:
        return {
            "file": str(self.root / name),
            "file_id": file_pseudonym(self.key, name),
            "sequence_id": sequence_id,
            "problem": problem,
        }

    def skipped(self) -> list[dict[str, str]]:
        """The public skip report: file pseudonym and problem of every input left out (a
        decoder's message that quotes the path gets the pseudonym instead)."""
        return [
            {
                "file_id": row["file_id"],
                "problem": row["problem"].replace(row["file"], row["file_id"]),
            }
            for row in self.linkage
            if row["problem"]
        ]


def collect(inputs: list[Path]) -> tuple[Path, list[Path], set[Path]]:
    """``(common folder, every input file sorted, the files named directly)``.

    Folders are searched recursively (like the study's raw folder); a missing input is an error.
    """
    missing = [path for path in inputs if not path.exists()]
    if missing:
        raise InputFileError(missing[0], "input not found")
    resolved = [path.resolve() for path in inputs]
    root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in resolved]))
    named = {path for path in resolved if path.is_file()}
    files = set(named)
    for folder in (path for path in resolved if path.is_dir()):
        files.update(raw_files(folder))
    return root, sorted(files), named


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def prepare_dicom(
    prepared: Prepared,
    paths: list[Path],
    named: set[Path],
    work: Path,
    deid: dict[str, Any],
    workers: int,
) -> None:
    """Check, group, de-identify and write the frames of the DICOM inputs ``paths``."""
    root = prepared.root
    good, problems = scan_files(paths, root, prepared.key, deid["fallback_box"], workers)
    for row in problems.itertuples(index=False):
        if row.fatal or (root / row.file) in named:  # a file asked for is never ignored quietly
            prepared.bad(row.file, row.problem)
        else:
            prepared.left_out(row.file, row.problem)
    manifest = group_sequences(good, prepared.key)
    for sequence_id, part in tqdm(
        manifest.groupby("sequence_id", sort=True), desc="predict: DICOM", unit="sequence"
    ):
        names = list(part.sort_values("position")["file"])
        try:
            prepared.sequences[sequence_id] = prepare_sequence(
                [root / name for name in names],
                work / "deid" / sequence_id,
                work / "audit" / f"{sequence_id}.json",
                work / "frames" / sequence_id,
                prepared.key,
                deid,
            )
        except InputFileError as error:
            failed = Path(error.path)
            name = failed.relative_to(root).as_posix() if failed.is_relative_to(root) else names[0]
            prepared.bad(name, error.problem)
            continue
        for name in names:
            prepared.link(name, sequence_id)


def prepare_videos(
    prepared: Prepared, paths: list[Path], work: Path, deid: dict[str, Any], workers: int
) -> None:
    """Probe, decode, clean and write the frames of the video inputs ``paths``."""
    root = prepared.root
    for path in tqdm(paths, desc="predict: video", unit="video"):
        name = path.relative_to(root).as_posix()
        sequence_id = sequence_pseudonym(prepared.key, f"video:{name}")
        try:
            n_frames, rows, columns, frame_time = probe(path)
            spec = {
                "raw_dir": str(root),
                "sequence_id": sequence_id,
                "frames": {"kind": "video", "path": name, "indices": None},
                "n_frames": n_frames,
                "rows": rows,
                "columns": columns,
                "frame_time_ms": frame_time,
            }
            cleaned, meta, _ = prepare_imported(spec, deid, workers)
            write_sequence(work / "frames" / sequence_id, cleaned, meta, workers)
        except InputFileError as error:
            prepared.bad(name, error.problem)
            continue
        except DynbusError as error:
            prepared.bad(name, str(error))
            continue
        prepared.sequences[sequence_id] = n_frames
        prepared.link(name, sequence_id)


def prepare_inputs(
    inputs: list[Path],
    work: Path,
    key: bytes,
    deid: dict[str, Any],
    on_bad_input: str,
    workers: int,
) -> Prepared:
    """De-identify every input into ``work/frames``; error if no sequence is left."""
    root, files, named = collect(inputs)
    prepared = Prepared(root, key, on_bad_input)
    videos = [path for path in files if _is_video(path)]
    prepare_dicom(prepared, [p for p in files if not _is_video(p)], named, work, deid, workers)
    prepare_videos(prepared, videos, work, deid, workers)
    if not prepared.sequences:
        raise DynbusError(
            f"no usable sequence in the {len(inputs)} inputs ({len(prepared.skipped())} "
            "files left out)"
        )
    return prepared
