"""``dynbus predict PACKAGE INPUT... --out DIR``: run a model package on new cine loops.

INPUTs are DICOM files or folders (cine or single-frame series; folders searched recursively)
and video files (.mp4, .avi, .mov, .mkv). They go through the study's de-identification and
frame path with the package's ``deid`` settings (``dynbus.model.inputs``), the study's inference
(``dynbus.detector.infer.detect``, the package's kernels pinned) and its fusion, so the same
frames give the same bytes as ``dynbus infer``. DIR receives, carrying pseudonyms only:

- ``detections.csv``: every box of every frame (``dynbus infer``'s columns);
- ``candidates.csv``: the fused lesion candidates per sequence with a decision column per frozen
  operating point (``multi@0.1``, ...), and ``candidate_boxes.csv``: each one's best box per frame;
- ``summary.csv`` and ``index.html`` (sorted by best score): one row per sequence;
- ``videos/<sequence_id>.mp4`` (GIF without an MP4 encoder): the overlay of each sequence;
- ``skipped.csv``: the inputs left out (``--on-bad-input skip``), by file pseudonym;
- ``private/`` (0700): ``key.hex`` when no ``--key`` is given (made on first use, reused after)
  and ``linkage.csv``, each input's path with its pseudonyms.

DIR is written whole (temporary folder, then renamed): a failed run leaves the old DIR as it was.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from pathlib import Path

import pandas as pd

from dynbus.deid.burned_text import ocr_setting
from dynbus.deid.pseudonyms import KEY_BYTES, create_key, read_key
from dynbus.detector.checkpoint import load_detector
from dynbus.detector.data import list_frames
from dynbus.detector.determinism import apply_settings
from dynbus.detector.infer import COLUMNS, detect
from dynbus.detector.runtime import add_device_argument, add_workers_argument, pick_device
from dynbus.errors import InputFileError
from dynbus.ingest.linkage import private_files
from dynbus.io.atomic import atomic_dir, atomic_open, write_csv
from dynbus.io.html_table import to_html
from dynbus.model.candidates import (
    BOX_COLUMNS,
    CANDIDATE_COLUMNS,
    SUMMARY_COLUMNS,
    decision_column,
    sequence_candidates,
    sequence_data,
    summary_row,
)
from dynbus.model.inputs import LINKAGE_COLUMNS, SKIPPED_COLUMNS, Prepared, prepare_inputs
from dynbus.model.overlay import write_overlay
from dynbus.model.package import ModelPackage, load_package
from dynbus.protocol.fusion import FusionSettings
from dynbus.reporting.video_writer import FORMATS, video_format

KEY_FILE = "private/key.hex"


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus predict``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="model package folder or its zip archive")
    parser.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="DICOM file or folder, video file"
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (written whole)")
    parser.add_argument(
        "--key",
        type=Path,
        default=None,
        help="linkage key file for the pseudonyms (default: OUT/private/key.hex, made if missing)",
    )
    parser.add_argument(
        "--on-bad-input",
        choices=["error", "skip"],
        default="error",
        help="a bad input stops the run (error, default) or is left out and listed (skip)",
    )
    parser.add_argument(
        "--format", default="auto", choices=FORMATS, help="overlay videos (auto: MP4 if possible)"
    )
    add_device_argument(parser)
    add_workers_argument(parser)
    return parser


def linkage_key(given: Path | None, out: Path, staging: Path) -> bytes:
    """The key: ``given``, else the one of an earlier run into ``out``, else a new one; the
    latter two are written to ``staging/private/key.hex`` (0600, folder 0700)."""
    if given is not None:
        if not given.is_file():
            raise InputFileError(given, "key file not found")
        return read_key(given)
    earlier = out / KEY_FILE
    key = read_key(earlier) if earlier.is_file() else secrets.token_bytes(KEY_BYTES)
    with private_files():
        create_key(staging / KEY_FILE, key)
    return key


def write_results(
    staging: Path,
    package: ModelPackage,
    prepared: Prepared,
    detections: pd.DataFrame,
    frames: Path,
    fmt: str,
) -> None:
    """Candidates, summary, overlay videos and index page of every sequence into ``staging``."""
    fusion = FusionSettings.from_config(package.config["fusion"])
    points = package.operating_points
    names = [decision_column(point) for point in points]
    by_sequence = dict(tuple(detections.groupby("sequence_id", sort=True)))
    empty = detections.iloc[:0]
    all_candidates, all_boxes, summary = [], [], []
    (staging / "videos").mkdir()
    for sequence_id, n_frames in sorted(prepared.sequences.items()):
        seq = sequence_data(sequence_id, by_sequence.get(sequence_id, empty))
        candidates, boxes = sequence_candidates(seq, fusion, points)
        meta = json.loads((frames / sequence_id / "meta.json").read_text(encoding="utf-8"))
        write_overlay(
            staging / "videos" / f"{sequence_id}.{fmt}",
            frames / sequence_id,
            n_frames,
            meta["frame_time_ms"],
            candidates,
            boxes,
            names,
            fmt,
        )
        all_candidates.append(candidates)
        all_boxes.append(boxes)
        video = {"video": f"videos/{sequence_id}.{fmt}"}
        summary.append(summary_row(sequence_id, n_frames, candidates, points) | video)
    write_csv(staging / "candidates.csv", _concat(all_candidates, CANDIDATE_COLUMNS + names))
    write_csv(staging / "candidate_boxes.csv", _concat(all_boxes, BOX_COLUMNS))
    table = pd.DataFrame(summary, columns=[*SUMMARY_COLUMNS, *names, "video"])
    write_csv(staging / "summary.csv", table)
    ranked = table.sort_values(["best_score", "sequence_id"], ascending=[False, True])
    title = f"dynbus predict: {len(table)} sequences by best candidate score"
    with atomic_open(staging / "index.html", "w", encoding="utf-8") as handle:
        handle.write(to_html(ranked, title, index=False))


def _concat(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    parts = [part for part in parts if len(part)]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def main(args: argparse.Namespace) -> None:
    """Run ``dynbus predict``."""
    device = pick_device(args.device)
    fmt = video_format(args.format)
    with tempfile.TemporaryDirectory(prefix="dynbus-predict-") as tmp:
        work = Path(tmp)
        package = load_package(args.package, work)
        apply_settings(package.config["reproducibility"], device)
        deid = package.config["deid"]
        ocr_setting(deid)
        with atomic_dir(args.out) as staging:
            key = linkage_key(args.key, args.out, staging)
            prepared = prepare_inputs(
                args.inputs, work, key, deid, args.on_bad_input, max(args.workers, 1)
            )
            refs = list_frames(work / "frames", sorted(prepared.sequences))
            model, _ = load_detector(package.weights, package.config["infer"]["score_floor"])
            model.to(device)
            detections, _ = detect(
                model, refs, device, package.config["infer"], args.workers, "predict"
            )
            write_csv(staging / "detections.csv", detections[COLUMNS])
            write_results(staging, package, prepared, detections, work / "frames", fmt)
            skipped = pd.DataFrame(prepared.skipped(), columns=SKIPPED_COLUMNS)
            write_csv(staging / "skipped.csv", skipped)
            with private_files():
                (staging / "private").mkdir(exist_ok=True)
                linkage = pd.DataFrame(prepared.linkage, columns=LINKAGE_COLUMNS)
                write_csv(staging / "private/linkage.csv", linkage)
    print(
        f"dynbus predict: {len(prepared.sequences)} sequences, {len(refs)} frames, "
        f"{len(detections)} boxes; {len(prepared.skipped())} inputs left out; see {args.out}",
        file=sys.stderr,
    )
