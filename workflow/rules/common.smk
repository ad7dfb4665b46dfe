# Shared helpers: config validation, the sequence table, per-stage config for the CLI.
import functools
import json
import os
import shlex

import pandas as pd
from snakemake.utils import validate


validate(config, "../schemas/config.schema.yaml", set_default=True)

# With --use-conda the envs hold third-party pins only; the checkout's package comes from src/.
PACKAGE_SOURCE = os.path.join(workflow.basedir, "src")
shell.prefix(f"set -euo pipefail; export PYTHONPATH={shlex.quote(PACKAGE_SOURCE)}; ")

include: "data.smk"


def stage_config(*sections):
    """The config sections a stage needs, as inline JSON for its --config option."""
    return json.dumps({name: config[name] for name in sections}, sort_keys=True)


@functools.cache
def _files_per_sequence(path, mtime_ns):
    table = pd.read_csv(path, dtype={"file": str}).sort_values(["sequence_id", "position"])
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
