"""Checkpoints: the per-epoch training state (for ``--resume``) and the exported best detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_path

from .model import build_model


def save(path: str | Path, state: dict[str, Any]) -> None:
    """``torch.save`` ``state`` atomically (a killed run never leaves a truncated file)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load(path: str | Path, required: tuple[str, ...]) -> dict[str, Any]:
    """Load a checkpoint saved by ``save``; check it holds the ``required`` entries."""
    file = Path(path)
    if not file.is_file():
        raise InputFileError(file, "checkpoint not found")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - unreadable file: report it, whatever the cause
        raise InputFileError(file, f"cannot read checkpoint ({error})") from error
    missing = [key for key in required if not isinstance(state, dict) or key not in state]
    if missing:
        raise InputFileError(file, f"not a dynbus checkpoint (missing {', '.join(missing)})")
    return state


def load_detector(path: str | Path, score_floor: float) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the exported detector at ``path`` (architecture from its own config), eval mode."""
    state = load(path, ("model", "config"))
    model = build_model(state["config"]["model"], score_floor=score_floor)
    model.load_state_dict(state["model"])
    return model.eval(), state
