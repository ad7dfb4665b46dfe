# Shared helpers: config validation, the sequence table, per-stage config for the CLI.
import functools
import json
import os
import shlex
import sys

import pandas as pd

# With --use-conda the envs hold third-party pins only; the package comes from the checkout's
# src/, found from this file so that it also works when the workflow is used as a module. A
# remote module (github(...)) has no src/ on disk: then the installed `dynbus` command runs.
PACKAGE_SOURCE = os.path.normpath(
    os.path.join(str(workflow.current_basedir), "..", "..", "src")
)
SHELL_PREFIX = "set -euo pipefail; "
if os.path.isdir(os.path.join(PACKAGE_SOURCE, "dynbus")):
    SHELL_PREFIX += f"export PYTHONPATH={shlex.quote(PACKAGE_SOURCE)}; "
    sys.path.insert(0, PACKAGE_SOURCE)
shell.prefix(SHELL_PREFIX)

from dynbus.config import validate as validate_config  # noqa: E402
from dynbus.errors import DynbusError  # noqa: E402

# The schema (workflow/schemas/config.schema.yaml) plus the cross-field checks, one-line errors.
try:
    validate_config(config)
except DynbusError as error:
    sys.exit(f"dynbus: {error}")  # one line: no Snakemake traceback, no schema dump


include: "data.smk"


def stage_config(*sections):
    """The config sections a stage needs, as inline JSON for its --config option."""
    return json.dumps({name: config[name] for name in sections}, sort_keys=True)


@functools.cache
def _files_per_sequence(path, mtime_ns):
    table = pd.read_csv(path, dtype={"file": str}).sort_values(
        ["sequence_id", "position"]
    )
    return {
        seq: [f"{LINKS}/{seq}/{position:06d}.dcm" for position in rows["position"]]
        for seq, rows in table.groupby("sequence_id")
    }


def files_per_sequence():
    """Links to the raw files of each sequence in frame order, from the manifest (read once)."""
    path = checkpoints.manifest.get().output.private
    return _files_per_sequence(path, os.stat(path).st_mtime_ns)


def sequence_ids():
    """All sequence pseudonyms of the study, sorted."""
    return sorted(files_per_sequence())


def raw_files(wildcards):
    """The pseudonymous links to the raw files of one sequence, in frame order."""
    return files_per_sequence()[wildcards.seq]


def all_frames(wildcards):
    """The frame folders of every sequence."""
    return expand("results/frames/{seq}", seq=sequence_ids())
