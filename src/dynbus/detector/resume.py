"""The training state kept between runs: ``OUT/resume/state.pt``, keyed by what defines the run.

The state is written atomically at the end of every epoch. It is not a workflow output, so
Snakemake never deletes it; a run continues from it only when the model and train
configuration, the annotation and split tables and the frame set are the ones it was saved with.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from dynbus.errors import InputFileError

from . import checkpoint
from .data import FrameRef

STATE_KEYS = (
    "model",
    "optimizer",
    "lr_scheduler",
    "scaler",
    "epoch",
    "history",
    "best",
    "run",
    "config",
)


def state_path(out: str | Path) -> Path:
    """Where the training state of the run writing to ``out`` is kept."""
    return Path(out) / "resume" / "state.pt"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: str | Path) -> str:
    try:
        return _digest(Path(path).read_bytes())
    except OSError as error:
        raise InputFileError(path, f"cannot read ({error.strerror})") from error


def _frames_digest(frames: list[FrameRef]) -> str:
    """Names and sizes of the frames (the frames rule writes them deterministically)."""
    listing = [(ref.sequence_id, ref.frame, ref.path.stat().st_size) for ref in frames]
    return _digest(json.dumps(listing).encode())


def run_identity(
    config: dict[str, Any], annotations: str | Path, splits: str | Path, frames: list[FrameRef]
) -> dict[str, str]:
    """Digests of what defines a training run: a state saved under other digests is stale."""
    train = {**config["train"], "val_batch_size": config["infer"]["batch_size"]}
    return {
        "model configuration": _digest(json.dumps(config["model"], sort_keys=True).encode()),
        "train configuration": _digest(json.dumps(train, sort_keys=True).encode()),
        "annotations": _file_digest(annotations),
        "splits": _file_digest(splits),
        "frames": _frames_digest(frames),
    }


def find(out: str | Path, run: dict[str, str], required: bool) -> dict[str, Any] | None:
    """The saved state of ``run`` in ``out``, or None to start afresh.

    ``required`` (``--resume``): a missing, unreadable or stale state is an error. Otherwise
    (``--auto-resume``) it is discarded with a line on stderr.
    """
    path = state_path(out)
    if not path.is_file():
        if required:
            raise InputFileError(
                path.parent,
                "no saved training state to resume (one is written at the end of every epoch); "
                "run without --resume to start training",
            )
        return None
    try:
        state = checkpoint.load(path, STATE_KEYS)
        changed = [name for name, digest in run.items() if state["run"].get(name) != digest]
    except InputFileError as error:
        problem = error.problem
    else:
        if not changed:
            return state
        problem = f"it belongs to another run (different {', '.join(changed)})"
    if required:
        raise InputFileError(path, f"{problem}; run without --resume to start a new run")
    print(f"discarding the saved training state {path}: {problem}", file=sys.stderr)
    path.unlink()
    return None


def save(out: str | Path, state: dict[str, Any]) -> None:
    """Write the state atomically (a kill leaves the previous epoch's state intact)."""
    checkpoint.save(state_path(out), state)
