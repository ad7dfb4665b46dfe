"""``dynbus prepare``: de-identify many sequences and write their frames, in one process.

The raw files come as the manifest's pseudonymous links (``dynbus manifest --links LINKS``):
``LINKS/{seq}/{position:06d}.dcm``. For every sequence given (default: every folder of LINKS)
this does what ``dynbus deidentify`` then ``dynbus frames`` do, without reading the de-identified
files back, and writes the same per-sequence outputs into OUT: ``deid/{seq}/000000.dcm, ...``,
``audit/{seq}.json`` and ``frames/{seq}/{frame:06d}.png`` + ``meta.json``, plus ``record.csv``
(``sequence_id, status, n_frames``: every sequence, ``ok`` or ``failed``). Sequences run in
``--threads`` forked workers, so imports are paid once per process, not per sequence.

A sequence that fails leaves none of its outputs and does not stop the others; its error, which
names the input file, goes to stderr (a private log in the workflow), never into OUT. With
``on_bad_input: error`` any failure fails the run after the other sequences are done and OUT is
not written; with ``skip`` OUT is written and the record lists the sequence as failed.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path
from typing import Any

from dynbus import config as dynbus_config
from dynbus.batch import Outcome, run_batch
from dynbus.deid.burned_text import ocr_setting
from dynbus.deid.cli import deidentify_sequence
from dynbus.deid.pseudonyms import load_or_create_key
from dynbus.errors import DynbusError, InputFileError
from dynbus.ingest.frames import dataset_frames, sequence_meta, write_frame_folder
from dynbus.io.atomic import atomic_dir

RECORD_COLUMNS = ["sequence_id", "status", "n_frames"]


def get_args_parser() -> argparse.ArgumentParser:
    """Parser of ``dynbus prepare``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--links",
        required=True,
        type=Path,
        help="the manifest's links to the raw files: LINKS/{seq}/{position:06d}.dcm",
    )
    parser.add_argument(
        "--sequences", nargs="+", metavar="SEQ", help="sequence ids to prepare (default: all)"
    )
    parser.add_argument(
        "--key", required=True, type=Path, help="linkage key file (created on first use)"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="receives deid/, audit/, frames/ and record.csv"
    )
    parser.add_argument("--threads", type=int, default=1, help="worker processes (default 1)")
    dynbus_config.add_config_argument(parser)
    return parser


def linked_files(links: Path, sequence_ids: list[str] | None) -> dict[str, list[Path]]:
    """The raw-file links of each sequence (all folders of ``links`` by default), in frame order."""
    if not links.is_dir():
        raise InputFileError(links, "not a folder of links (dynbus manifest --links)")
    wanted = sequence_ids or sorted(p.name for p in links.iterdir() if p.is_dir())
    files: dict[str, list[Path]] = {}
    for sequence_id in sorted(wanted):
        folder = links / sequence_id
        files[sequence_id] = sorted(folder.glob("*.dcm")) if folder.is_dir() else []
        if not files[sequence_id]:
            raise InputFileError(folder, f"no linked files of sequence {sequence_id}")
    return files


def prepare_sequence(
    files: list[Path], deid: Path, audit: Path, frames: Path, key: bytes, settings: dict[str, Any]
) -> int:
    """De-identify the raw ``files`` of one sequence into ``deid`` (+ ``audit``) and write its
    frames into ``frames``, without reading the de-identified files back; return the frame count.

    The one data path from raw DICOM to frames: ``dynbus prepare`` and ``dynbus predict`` use it.
    """
    datasets, _ = deidentify_sequence(files, deid, key, settings, audit)
    paths = [deid / f"{index:06d}.dcm" for index in range(len(datasets))]
    images = dataset_frames(datasets, paths)
    write_frame_folder(frames, images, sequence_meta(datasets[0], len(images)), 1, str(deid))
    return len(images)


class SequencePreparer:
    """De-identify one sequence and write its frames (the work of one batch item)."""

    def __init__(self, args: argparse.Namespace, root: Path, files: dict[str, list[Path]]):
        self.root = root
        self.files = files
        self.settings = dynbus_config.load(args.config)["deid"]
        ocr_setting(self.settings)
        self.key = load_or_create_key(args.key)

    def outputs(self, sequence_id: str) -> tuple[Path, Path, Path]:
        """The de-identified folder, audit file and frames folder of ``sequence_id``."""
        return (
            self.root / "deid" / sequence_id,
            self.root / "audit" / f"{sequence_id}.json",
            self.root / "frames" / sequence_id,
        )

    def __call__(self, sequence_id: str) -> int:
        try:
            return prepare_sequence(
                self.files[sequence_id], *self.outputs(sequence_id), self.key, self.settings
            )
        except (DynbusError, OSError):
            self.remove(sequence_id)
            raise

    def remove(self, sequence_id: str) -> None:
        """Delete whatever outputs ``sequence_id`` has (a failed sequence leaves none)."""
        deid, audit, frames = self.outputs(sequence_id)
        shutil.rmtree(deid, ignore_errors=True)
        shutil.rmtree(frames, ignore_errors=True)
        audit.unlink(missing_ok=True)


def write_record(path: Path, outcomes: list[Outcome]) -> None:
    """The public per-sequence record: pseudonym, ok / failed, frames written (csv, not pandas:
    its import would cost every shard's process half a second)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(RECORD_COLUMNS)
        writer.writerows((o.sequence_id, "ok" if o.ok else "failed", o.frames) for o in outcomes)


def main(args: argparse.Namespace) -> None:
    """Run ``dynbus prepare``."""
    on_bad_input = dynbus_config.load(args.config)["on_bad_input"]
    files = linked_files(args.links, args.sequences)
    processes = max(1, min(args.threads, len(files)))
    with atomic_dir(args.out) as tmp:
        outcomes = run_batch(SequencePreparer(args, tmp, files), list(files), processes)
        failed = [outcome for outcome in outcomes if not outcome.ok]
        for outcome in failed:
            print(f"dynbus prepare: {outcome.sequence_id}: {outcome.error}", file=sys.stderr)
        print(
            f"dynbus prepare: {len(outcomes) - len(failed)} of {len(outcomes)} sequences, "
            f"{sum(o.frames for o in outcomes)} frames ({processes} processes)",
            file=sys.stderr,
        )
        if failed and on_bad_input == "error":
            raise DynbusError(
                f"{len(failed)} of {len(outcomes)} sequences failed (first: "
                f"{failed[0].sequence_id}: {failed[0].error}); fix the input or set "
                "on_bad_input: skip"
            )
        write_record(tmp / "record.csv", outcomes)
