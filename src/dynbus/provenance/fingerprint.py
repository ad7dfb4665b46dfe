"""``dynbus fingerprint``: a content fingerprint (sha256) of every stage's outputs under results/.

Each stage gets the sha256 of each file it writes (folders such as ``frames/`` file by file) and
one digest over them, so two runs can be compared stage by stage (``dynbus compare``). The
demo's simulated raw study (``--raw``, outside results/) is the first stage, ``simulate``; its
files are keyed by position (``raw/0001.dcm``...), since their names hold the fake patients'
names, which results/ never holds. Files
holding wall-clock times (``model/metrics.csv``, ``checkpoint.pt``, ``training.png``) are left
out; a ``.pt`` file is hashed member by member without its per-save random id and the name of
the file it was saved as, so the same weights give the same fingerprint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from dynbus.errors import InputFileError
from dynbus.io.atomic import write_json

FORMAT = 1

# Pipeline order: (stage, paths under results/ it writes that do not depend on the clock).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("manifest", ("manifest.csv", "reports/skipped_inputs.csv")),
    ("deidentify", ("deid", "audit")),
    ("frames", ("frames",)),
    ("annotations", ("annotations.csv", "reports/bad_annotations.csv")),
    ("split", ("splits.csv", "reports/split_summary.csv")),
    ("train", ("model/detector.pt",)),
    ("infer", ("detections",)),
    ("evaluate", ("eval",)),
    ("operating_points", ("model/operating_points.csv",)),
    ("tables", ("tables",)),
    ("plots", ("plots",)),
    ("figures", ("figures",)),
    ("overlays", ("overlays",)),
    ("subgroups", ("subgroups",)),
)
RAW_STAGE = "simulate"
# With k-fold cross-validation (split.folds > 1) these stages run once per fold, under
# results/folds/<i>/; the top-level eval/, tables/ and plots/ then hold the pooled results.
PER_FOLD_STAGES = (
    "split",
    "train",
    "infer",
    "evaluate",
    "operating_points",
    "tables",
    "plots",
    "figures",
    "overlays",
)
_VOLATILE_ZIP_MEMBERS = {".data/serialization_id"}  # torch.save: a random id per save


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus fingerprint``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="the results folder of a run")
    parser.add_argument("--out", required=True, help="fingerprint JSON to write")
    parser.add_argument(
        "--raw", default=None, help="the demo's simulated raw folder: fingerprinted as 'simulate'"
    )
    return parser


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes; for a torch checkpoint (zip), of its members minus the save id."""
    digest = hashlib.sha256()
    if path.suffix == ".pt" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for name in sorted(archive.namelist()):
                member = name.partition("/")[2]  # the top folder is named after the (temp) file
                if member not in _VOLATILE_ZIP_MEMBERS:
                    digest.update(member.encode())
                    digest.update(archive.read(name))
        return digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(results: Path, relative: str) -> list[Path]:
    path = results / relative
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []


def stage_fingerprint(results: Path, paths: tuple[str, ...]) -> dict[str, Any] | None:
    """``{"digest", "files": {relative path: sha256}}`` of one stage; None if it wrote nothing."""
    files = {
        file.relative_to(results).as_posix(): file_sha256(file)
        for relative in paths
        for file in _files(results, relative)
    }
    return _stage(files)


def raw_fingerprint(raw: Path) -> dict[str, Any] | None:
    """The simulated raw study's stage fingerprint: every file by its position in path order
    (``raw/0001.dcm``), none by its name (which holds a fake patient's name); hidden files
    (Snakemake's ``.snakemake_timestamp``) are not part of the study."""
    files = [file for file in _files(raw.parent, raw.name) if not file.name.startswith(".")]
    return _stage(
        {f"raw/{k:04d}{file.suffix}": file_sha256(file) for k, file in enumerate(files, start=1)}
    )


def _stage(files: dict[str, str]) -> dict[str, Any] | None:
    if not files:
        return None
    listing = "".join(f"{name}\0{sha}\n" for name, sha in sorted(files.items()))
    return {"digest": hashlib.sha256(listing.encode()).hexdigest(), "files": files}


def stage_names() -> list[str]:
    """Every stage name in pipeline order, ``simulate`` first."""
    return [RAW_STAGE, *(name for name, _ in STAGES)]


def fingerprint(results: str | Path, raw: str | Path | None = None) -> dict[str, Any]:
    """Fingerprints of every stage found under ``results`` (stages in pipeline order), after
    the simulated raw folder ``raw``'s when given."""
    root = Path(results)
    if not root.is_dir():
        raise InputFileError(root, "results folder not found")
    stages = {}
    if raw is not None:
        if not Path(raw).is_dir():
            raise InputFileError(Path(raw), "simulated raw folder not found")
        raw_stage = raw_fingerprint(Path(raw))
        if raw_stage is not None:
            stages[RAW_STAGE] = raw_stage
    named = list(STAGES)
    folds = sorted((p.name for p in (root / "folds").glob("*") if p.name.isdigit()), key=int)
    for fold in folds:
        named += [
            (f"{name} fold {fold}", tuple(f"folds/{fold}/{path}" for path in paths))
            for name, paths in STAGES
            if name in PER_FOLD_STAGES
        ]
    for name, paths in named:
        stage = stage_fingerprint(root, paths)
        if stage is not None:
            stages[name] = stage
    return {"format": FORMAT, "stages": stages}


def read(path: str | Path) -> dict[str, Any]:
    """Read a fingerprint JSON written by ``dynbus fingerprint``."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InputFileError(file, "fingerprint file not found") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputFileError(file, f"not a JSON file ({error})") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT or "stages" not in data:
        raise InputFileError(file, f"not a dynbus fingerprint (format {FORMAT})")
    return data


def main(args: argparse.Namespace) -> None:
    """Fingerprint the results folder and write the JSON."""
    data = fingerprint(args.results, args.raw)
    write_json(args.out, data)
    files = sum(len(stage["files"]) for stage in data["stages"].values())
    print(f"{len(data['stages'])} stages, {files} files fingerprinted", file=sys.stderr)
