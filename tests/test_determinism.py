"""The reproducibility pin: a tiny ``dynbus train`` gives the same weights whatever the CPU offers.

Each training runs in a fresh process (torch reads its kernel caps once). An AVX2 machine (or
a smaller one) is simulated by capping the instruction set in the environment before ``dynbus
train`` applies ``reproducibility``; with the pin the weights are bit-identical, and
the control without the pin shows that the caps do change them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dynbus.environment import REPRODUCIBILITY_ENV
from tests.detector_fixtures import TINY_CONFIG, DetectorInputs, train_argv, write_inputs

SMALLER = {
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "AVX",
    "OMP_NUM_THREADS": "1",
}
AVX2_MACHINE = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DetectorInputs:
    return write_inputs(
        tmp_path_factory.mktemp("pin"), counts={"train": 2, "val": 1}, negatives=0, n_frames=4
    )


def _weights_digest(path: Path) -> str:
    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].numpy().tobytes())
    return digest.hexdigest()


def _train(data: DetectorInputs, out: Path, env: dict[str, str], cpu_isa: str) -> str:
    config = {
        **TINY_CONFIG,
        "train": {
            **TINY_CONFIG["train"],
            "epochs": 1,
            "batch_size": 2,
            "frame_stride": 1,
            "val_stride": 2,
        },
        "reproducibility": {"cpu_isa": cpu_isa, "threads": 2},
    }
    base = {k: v for k, v in os.environ.items() if k not in REPRODUCIBILITY_ENV}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dynbus",
            *train_argv(data, out, json.dumps(config), "--device", "cpu"),
        ],
        env={**base, **env},
        check=True,
        capture_output=True,
    )
    return _weights_digest(out / "detector.pt")


def test_pinned_training_gives_the_same_weights_on_any_instruction_set(data, tmp_path) -> None:
    pinned = _train(data, tmp_path / "pinned", {}, "avx2")
    assert _train(data, tmp_path / "avx2_machine", AVX2_MACHINE, "avx2") == pinned
    assert _train(data, tmp_path / "smaller", SMALLER, "avx2") == pinned
    # control: without the pin the same caps give another detector
    assert _train(data, tmp_path / "native_smaller", SMALLER, "native") != pinned
