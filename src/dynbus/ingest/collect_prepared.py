"""``dynbus collect-prepared SHARD [SHARD ...] --manifest M --out OUT --report REPORT``.

Reads the ``record.csv`` of every ``dynbus prepare`` output folder (shard) and writes OUT, the
public manifest restricted to the sequences prepared, and REPORT, the sequences that failed
(left out under ``on_bad_input: skip``; the reason is in the shard's private log). Every sequence
of the manifest must be in exactly one shard's record.

With ``--frames/--deid/--audit`` the prepared sequences' outputs are gathered out of the shards
into those folders (``{seq}/``, ``{seq}/`` and ``{seq}.json``) as hard links, no copy (so they
must be on the shards' file system): the per-sequence layout every later stage reads. Each folder
is built beside its place and renamed.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pandas as pd

from dynbus.errors import DynbusError
from dynbus.ingest.prepare import RECORD_COLUMNS
from dynbus.io.atomic import atomic_dir, write_csv
from dynbus.io.csv_input import read_csv_checked

REPORT_COLUMNS = ["sequence_id", "patient_id", "shard", "problem"]
PROBLEM = "de-identification or frame export failed (the shard's log in linkage.dir says why)"


def get_args_parser() -> argparse.ArgumentParser:
    """Parser of ``dynbus collect-prepared``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards", nargs="+", type=Path, metavar="SHARD", help="prepare outputs")
    parser.add_argument("--manifest", required=True, type=Path, help="public manifest CSV")
    parser.add_argument("--out", required=True, type=Path, help="manifest of prepared sequences")
    parser.add_argument("--report", required=True, type=Path, help="failed sequences CSV")
    for name, what in (("frames", "frame folders"), ("deid", "de-identified DICOM folders"),
                       ("audit", "audit JSON files")):  # fmt: skip
        parser.add_argument(f"--{name}", type=Path, help=f"gather the sequences' {what} here")
    return parser


def shard_records(shards: list[Path]) -> pd.DataFrame:
    """The shards' records, one row per sequence, with the shard's folder name."""
    records = [
        read_csv_checked(shard / "record.csv", RECORD_COLUMNS).assign(shard=shard.name)
        for shard in shards
    ]
    return pd.concat(records, ignore_index=True)


def link_tree(source: Path, target: Path) -> None:
    """Hard-link the file or folder ``source`` (files and subfolders) as ``target``."""
    if source.is_dir():
        shutil.copytree(source, target, copy_function=os.link)
    else:
        os.link(source, target)


def gather(args: argparse.Namespace, shard_of: dict[str, str]) -> None:
    """Link each prepared sequence's outputs out of its shard into the folders asked for."""
    folders = {arg.name: arg for arg in args.shards}
    for kind, suffix in (("frames", ""), ("deid", ""), ("audit", ".json")):
        target = getattr(args, kind)
        if target is None:
            continue
        with atomic_dir(target) as tmp:
            for sequence_id, shard in sorted(shard_of.items()):
                name = f"{sequence_id}{suffix}"
                link_tree(folders[shard] / kind / name, tmp / name)


def main(args: argparse.Namespace) -> None:
    """Run ``dynbus collect-prepared``."""
    manifest = read_csv_checked(args.manifest, ["sequence_id", "patient_id"])
    records = shard_records(args.shards)
    counts = records["sequence_id"].value_counts()
    twice = counts[counts > 1]
    if len(twice):
        raise DynbusError(f"sequence {twice.index[0]} is in {twice.iloc[0]} shards' records")
    missing = sorted(set(manifest["sequence_id"]) - set(records["sequence_id"]))
    if missing:
        raise DynbusError(f"{len(missing)} sequences of {args.manifest} are in no shard's "
                          f"record (first: {missing[0]})")  # fmt: skip
    status = manifest.merge(records, on="sequence_id", how="left", validate="one_to_one")
    failed = status[status["status"] != "ok"].assign(problem=PROBLEM)
    prepared = status[status["status"].eq("ok")]
    gather(args, dict(zip(prepared["sequence_id"], prepared["shard"], strict=True)))
    write_csv(args.out, manifest[status["status"].eq("ok").to_numpy()])
    write_csv(args.report, failed[REPORT_COLUMNS])
    print(f"dynbus collect-prepared: {len(manifest) - len(failed)} of {len(manifest)} sequences "
          f"prepared, {len(failed)} failed (see {args.report})")  # fmt: skip
