"""The reproducibility settings, checked with the kernel probe (``dynbus probe``) in new processes.

torch fixes its kernels at its first operation, so each probe runs in its own process, under the
workflow's config.yaml. The variations are what another machine differs in and what
``apply_settings`` does not overwrite: the oneDNN instruction set (another CPU's oneDNN picks other
kernels and blocking), the number of cores, and caps left in the user's environment. The
committed probe (docs/kernel_probes.csv) is what this CPU model gave before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from dynbus.provenance.environment import REPRODUCIBILITY_ENV
from dynbus.provenance.probe import committed
from tests.conftest import ROOT

PROBES = ROOT / "docs" / "kernel_probes.csv"
CONFIG = str(ROOT / "config.yaml")
VARIATIONS = {
    "oneDNN capped at SSE4.1": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "one core": {"cores": "1"},
    "leftover ATen and MKL caps": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "AUTO"},
}


def probe(variation: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``dynbus probe`` with the workflow's config in a fresh process under ``variation``."""
    env = {k: v for k, v in os.environ.items() if k not in REPRODUCIBILITY_ENV}
    env.update({k: v for k, v in (variation or {}).items() if k != "cores"})
    cores = int((variation or {}).get("cores", 0))
    done = subprocess.run(
        [sys.executable, "-m", "dynbus", "probe", "--config", CONFIG],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, set(range(cores)))) if cores else None,
    )
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return probe()


def test_probe_matches_the_committed_hash_of_this_cpu_model(baseline) -> None:
    rows = [row for row in committed(baseline, PROBES) if row["probe_sha256"]]
    if not rows:
        pytest.skip(
            f"no committed probe for {baseline['cpu_model']} with torch {baseline['torch']} "
            f"and {baseline['settings']} in docs/kernel_probes.csv (add this machine's)"
        )
    assert baseline["probe_sha256"] in {row["probe_sha256"] for row in rows}, (
        f"{baseline['cpu_model']} is listed with another probe hash: its kernels changed"
    )


@pytest.mark.parametrize("name", VARIATIONS)
def test_probe_is_the_same_under_what_machines_differ_in(baseline, name) -> None:
    varied = probe(VARIATIONS[name])
    assert varied["kernels_used"] == baseline["kernels_used"]
    assert varied["probe_sha256"] == baseline["probe_sha256"], f"{name} changes the weights"


def test_the_claimed_kernels_are_the_ones_used(baseline) -> None:
    assert baseline["settings"] == "cpu_isa=avx2 portable=true threads=2"
    if baseline["isa_detected"] in {"AVX2", "AVX512", "AMX"}:
        assert baseline["kernels_used"] == "AVX2"
    assert baseline["threads_used"] == 2
    assert baseline["mkldnn_enabled"] is False
