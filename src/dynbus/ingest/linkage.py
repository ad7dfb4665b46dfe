"""The private linkage folder: owner-only files and pseudonymous links to the raw files.

Steps after the manifest read the raw DICOM through ``LINKS/<sequence_id>/<position>.dcm``
symlinks, so their command lines, logs and Snakemake's records name pseudonyms only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from dynbus.io.atomic import atomic_dir

PRIVATE_UMASK = 0o077


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Inside the block, new files are created 0600 and new folders 0700 (umask 077)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def link_name(sequence_id: str, position: int) -> str:
    """Path of a raw file's link relative to the links folder, e.g. ``S0c44d2e9a1/000002.dcm``."""
    return f"{sequence_id}/{position:06d}.dcm"


def link_raw_files(private_manifest: pd.DataFrame, raw_dir: Path, links: Path) -> None:
    """Replace ``links`` by one symlink per raw file (absolute target), named by pseudonyms."""
    root = raw_dir.resolve()
    with private_files(), atomic_dir(links) as staging:
        for row in private_manifest.itertuples(index=False):
            link = staging / link_name(row.sequence_id, row.position)
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(root / row.file)
