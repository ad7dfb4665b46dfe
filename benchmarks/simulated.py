"""A small simulated study for the benchmarks (``dynbus simulate`` in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def simulate(raw: Path, seed: int, patients: int, settings: dict) -> list[Path]:
    """``dynbus simulate`` into ``raw`` with ``settings`` (the ``simulate`` section); its DICOMs."""
    subprocess.run([sys.executable, "-m", "dynbus", "simulate", "--out", str(raw),
                    "--seed", str(seed), "--patients", str(patients),
                    "--config", json.dumps({"simulate": settings})],
                   check=True, capture_output=True)  # fmt: skip
    return sorted(raw.rglob("*.dcm"))
