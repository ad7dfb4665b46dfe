"""``dynbus probe``: a fingerprint of this machine's CPU kernels under the reproducibility settings.

Builds the demo's detector at a tiny size with a fixed seed, applies the config's
``reproducibility`` section first thing, runs two fixed training steps (forward, backward,
optimiser step) on fixed random frames, and prints one JSON record: the sha256 of both losses
and all resulting weights, the CPU (model, vendor, instruction-set level), torch version,
settings and the kernels torch used. Two machines with the same probe hash train the same
detector from the same frames; docs/kernel_probes.csv lists the hashes seen so far (``--known``
compares with it). Takes seconds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from dynbus.config import add_config_argument, load
from dynbus.detector.determinism import apply_settings
from dynbus.detector.model import build_model
from dynbus.detector.optim import build_optimizer
from dynbus.detector.runtime import seed_everything
from dynbus.errors import InputFileError
from dynbus.provenance.environment import cpu

PROBE_MODEL = {"arch": "resnet18_fpn_slim", "min_size": 64, "max_size": 80}
PROBE_OPTIMIZER = {"optimizer": "adamw", "lr": 0.001, "weight_decay": 0.0001}
PROBE_BOXES = ([10.0, 12.0, 30.0, 40.0], [20.0, 8.0, 50.0, 30.0])
PROBE_STEPS = 2
# The columns of docs/kernel_probes.csv that identify a probe's conditions.
KEY = ("cpu_model", "torch", "settings")


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus probe``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_argument(parser)
    parser.add_argument(
        "--known", help="CSV of committed probes (docs/kernel_probes.csv): say if this one matches"
    )
    return parser


def settings_label(settings: dict[str, Any]) -> str:
    """The reproducibility settings as one short string, e.g. ``cpu_isa=avx2 portable=true ...``."""
    return " ".join(
        f"{key}={str(settings[key]).lower()}" for key in ("cpu_isa", "portable", "threads")
    )


def training_steps() -> str:
    """sha256 of the probe's losses and final weights (settings must already be applied)."""
    seed_everything(0, torch.device("cpu"))
    model = build_model(PROBE_MODEL).train()
    optimizer = build_optimizer(model, PROBE_OPTIMIZER)
    generator = torch.Generator().manual_seed(1)
    height, width = PROBE_MODEL["min_size"], PROBE_MODEL["max_size"]
    images = [torch.rand(3, height, width, generator=generator) for _ in PROBE_BOXES]
    targets = [{"boxes": torch.tensor([box]), "labels": torch.tensor([1])} for box in PROBE_BOXES]
    digest = hashlib.sha256()
    for _ in range(PROBE_STEPS):
        loss = sum(model(images, targets).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        digest.update(loss.detach().numpy().tobytes())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def run(settings: dict[str, Any]) -> dict[str, Any]:
    """Apply ``settings`` and run the probe; the record printed by ``dynbus probe``."""
    kernels = apply_settings(settings, torch.device("cpu"))
    start = time.perf_counter()
    digest = training_steps()
    machine = cpu()
    return {
        "cpu_model": machine["model"],
        "vendor": machine["vendor"],
        "isa_detected": machine["isa_detected"],
        "torch": torch.__version__,
        "settings": settings_label(settings),
        "kernels_used": kernels,
        "threads_used": torch.get_num_threads(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
        "probe_sha256": digest,
        "seconds": round(time.perf_counter() - start, 1),
    }


def committed(record: dict[str, Any], table: str | Path) -> list[dict[str, str]]:
    """Rows of ``table`` probed under the same conditions (CPU model, torch, settings)."""
    try:
        with open(table, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise InputFileError(table, f"cannot read it: {error.strerror}") from error
    missing = [key for key in (*KEY, "probe_sha256") if rows and key not in rows[0]]
    if missing:
        raise InputFileError(table, f"no column {', '.join(missing)}")
    return [row for row in rows if all(row[key] == str(record[key]) for key in KEY)]


def verdict(record: dict[str, Any], table: str | Path) -> str:
    """One line: whether ``record`` matches the committed probe of its CPU model."""
    rows = [row for row in committed(record, table) if row["probe_sha256"]]
    if not rows:
        return (
            f"no committed probe for {record['cpu_model']} with torch {record['torch']} and "
            f"{record['settings']} in {table}: add this one"
        )
    if any(row["probe_sha256"] == record["probe_sha256"] for row in rows):
        return f"matches the committed probe of {record['cpu_model']} ({table})"
    return f"DIFFERS from the committed probe of {record['cpu_model']} ({table})"


def main(args: argparse.Namespace) -> None:
    """Print the probe record as JSON (and, with ``--known``, the comparison on stderr)."""
    record = run(load(args.config)["reproducibility"])
    print(json.dumps(record))
    if args.known:
        print(verdict(record, args.known), file=sys.stderr)
