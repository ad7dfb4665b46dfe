"""Device choice and seeding shared by ``train`` and ``infer``."""

from __future__ import annotations

import argparse
import random

import numpy as np
import torch

from dynbus.errors import DynbusError


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--device auto|cpu|cuda`` (auto = CUDA when present)."""
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where to run (default: CUDA when present, else CPU)",
    )


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers N``: DataLoader processes decoding frames (the workflow passes the job's
    threads). Results do not depend on it: each item's augmentation is seeded by itself."""
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="frame-decoding worker processes (0: in the main process; default 2)",
    )


def pick_device(name: str) -> torch.device:
    """Resolve ``--device``; asking for CUDA on a machine without it is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DynbusError("--device cuda: no CUDA device is available")
    return torch.device(name)


def seed_everything(seed: int, device: torch.device) -> None:
    """Seed Python, NumPy and torch; on CPU also ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
