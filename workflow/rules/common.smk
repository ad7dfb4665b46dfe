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

from dynbus.batch import shards  # noqa: E402
from dynbus.config import validate as validate_config  # noqa: E402
from dynbus.errors import DynbusError  # noqa: E402

# The schema (workflow/schemas/config.schema.yaml) plus the cross-field checks, one-line errors.
try:
    validate_config(config)
except DynbusError as error:
    sys.exit(f"dynbus: {error}")  # one line: no Snakemake traceback, no schema dump


include: "data.smk"


def stage_config(*sections):
    """The config sections a stage needs, as inline JSON for its --config option; the paths of
    source.coco_json become their links under linkage.dir (data.smk)."""
    stages = {**config, "source": {**config["source"], "coco_json": COCO_JSON_LINKS}}
    return json.dumps({name: stages[name] for name in sections}, sort_keys=True)


# The config of the annotations stage: the size and frame-rate bins do not touch results/annotations.csv,
# so only subgroups.columns is its parameter (a new bin must not re-run the whole study).
ANNOTATIONS_CONFIG = json.dumps(
    {
        "on_bad_annotation": config["on_bad_annotation"],
        "subgroups": {"columns": config["subgroups"]["columns"]},
    },
    sort_keys=True,
)


@functools.cache
def _sequence_ids(path, mtime_ns):
    return sorted(pd.read_csv(path, usecols=["sequence_id"])["sequence_id"].unique())


def sequence_ids():
    """All sequence pseudonyms of the study, sorted (from the private manifest, read once)."""
    path = checkpoints.manifest.get().output.private
    return _sequence_ids(path, os.stat(path).st_mtime_ns)


# The per-sequence work runs in shards of SHARD_SIZE sequences, one process each: a process
# start-up with its imports costs about a second, more than a small sequence's work.
SHARD_SIZE = 128
DICOM = config["source"]["format"] == "dicom"
# What the duplicate check and the split see: for DICOM the manifest of the sequences the shards
# prepared (all of them unless on_bad_input: skip let one fail), else the import's manifest.
STUDY_MANIFEST = "results/prepared/manifest.csv" if DICOM else "results/manifest.csv"
# The frame folders, results/frames/{seq}: what training, inference and the figures read.
FRAMES = "results/frames"


@functools.cache
def _shards(path, mtime_ns):
    return shards(_sequence_ids(path, mtime_ns), SHARD_SIZE)


def prepare_shards():
    """The study's sorted sequence ids cut into shards of SHARD_SIZE (dynbus.batch.shards)."""
    path = checkpoints.manifest.get().output.private
    return _shards(path, os.stat(path).st_mtime_ns)


def shard_sequences(wildcards):
    """The sequence ids of shard ``wildcards.shard``."""
    return prepare_shards()[int(wildcards.shard)]


def all_shards(wildcards):
    """Every shard's output folder."""
    return expand("results/prepared/{shard}", shard=range(len(prepare_shards())))


def all_frames(wildcards):
    """The frame folders of the study: for DICOM the one folder rule collect_prepared fills,
    else every sequence's folder."""
    if DICOM:
        return [FRAMES]
    return expand(f"{FRAMES}/{{seq}}", seq=sequence_ids())
