"""The data stages give the same bytes whatever SIMD numpy, OpenBLAS and libjpeg-turbo pick.

``dynbus simulate``, ``dynbus manifest`` and ``dynbus prepare`` (what the workflow's rules run)
run in fresh processes, uncapped and with each library's dispatch capped in the environment as
on an older CPU (numpy with every dispatch target off, OpenBLAS's Prescott / Sandybridge kernels,
libjpeg-turbo without SIMD or with SSE2 only). Every raw file, de-identified DICOM, PNG frame and
``meta.json`` (with its perceptual hashes) must be the same bytes: the simulator's quantised
values and the hashes come from exact arithmetic, not from whichever kernel a CPU picks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from numpy._core._multiarray_umath import __cpu_dispatch__

from dynbus.provenance.fingerprint import raw_fingerprint, stage_fingerprint

# 4 patients at the demo's frame size; seed 2019 gives them (ENCODING_CYCLE) uncompressed RGB,
# RLE RGB (both converted to gray by the luma weights), JPEG YBR and JPEG-LS gray
STUDY = {"simulate": {"seed": 2019, "patients": 4, "frames": [6, 8], "rows": 256, "columns": 320}}
CAPS = {
    "numpy baseline, OpenBLAS Prescott, no JPEG SIMD": {
        "NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__),
        "OPENBLAS_CORETYPE": "Prescott",
        "JSIMD_FORCENONE": "1",
    },
    "OpenBLAS Sandybridge, JPEG SSE2": {"OPENBLAS_CORETYPE": "Sandybridge", "JSIMD_FORCESSE2": "1"},
}
CAPPING = ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")


def _dynbus(env: dict[str, str], *argv: str) -> None:
    command = [sys.executable, "-m", "dynbus", *argv]
    subprocess.run(command, env=env, check=True, capture_output=True)


def _data_stages(root: Path, caps: dict[str, str]) -> dict[str, str]:
    """Run simulate, manifest and prepare under ``caps``; sha256 of every file they wrote (raw
    files by position, as their fingerprint stage keys them: their names hold fake PHI)."""
    base = {k: v for k, v in os.environ.items() if k not in CAPPING and not k.startswith("JSIMD")}
    env = {**base, **caps}
    raw, key, link = root / "raw", root / "key.hex", root / "linkage"
    _dynbus(env, "simulate", "--out", str(raw), "--linkage-key", str(key), "--config",
            json.dumps(STUDY))  # fmt: skip
    _dynbus(env, "manifest", str(raw), "--key", str(key), "--private", str(link / "manifest.csv"),
            "--links", str(link / "raw"), "--out", str(root / "manifest.csv"),
            "--skipped", str(root / "skipped.csv"))  # fmt: skip
    _dynbus(env, "prepare", "--links", str(link / "raw"), "--key", str(key),
            "--out", str(root / "prepared"))  # fmt: skip
    stages = raw_fingerprint(raw), stage_fingerprint(root, ("manifest.csv", "prepared"))
    return {name: sha for stage in stages if stage for name, sha in stage["files"].items()}


@pytest.fixture(scope="module")
def uncapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _data_stages(tmp_path_factory.mktemp("uncapped"), {})


@pytest.mark.parametrize("caps", CAPS.values(), ids=CAPS.keys())
def test_data_stages_give_the_same_bytes_under_capped_dispatch(uncapped, caps, tmp_path) -> None:
    for folder, suffix in [("raw/", ".dcm"), ("prepared/deid", ".dcm"), ("prepared/frames", ".png"),
                           ("prepared/frames", "meta.json")]:  # fmt: skip
        assert any(n.startswith(folder) and n.endswith(suffix) for n in uncapped), (folder, suffix)
    capped = _data_stages(tmp_path, caps)
    assert capped.keys() == uncapped.keys()
    differ = sorted(name for name in uncapped if capped[name] != uncapped[name])
    assert not differ, f"{len(differ)} of {len(uncapped)} files differ: {differ}"
