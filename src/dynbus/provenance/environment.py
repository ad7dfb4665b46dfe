"""``dynbus environment``: record the machine and software a run used (results/provenance/).

Writes ``--out`` (JSON: CPU model, instruction set detected and the one torch uses under the
``reproducibility`` settings, thread counts, GPU model and driver, Python, every installed package
version, git commit and whether the tree was dirty) and, beside it, the same as a flat
``section,key,value`` CSV, a Markdown table (packages counted, listed in the CSV) and an HTML
page for the report.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from dynbus.config import add_config_argument, load
from dynbus.io.atomic import atomic_open, write_csv, write_json
from dynbus.io.html_table import to_html

# Highest first: the instruction-set level a CPU offers, from its /proc/cpuinfo flags.
ISA_LEVELS = (
    ("AMX", ("amx_tile",)),
    ("AVX512", ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
    ("AVX2", ("avx2", "fma")),
    ("AVX", ("avx",)),
)
REPRODUCIBILITY_ENV = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "MKL_CBWR",
    "OMP_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
)


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus environment``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="environment JSON (CSV and .md beside it)")
    parser.add_argument("--repo", default=".", help="git checkout of the workflow (default: .)")
    add_config_argument(parser)
    return parser


def _cpuinfo(path: str = "/proc/cpuinfo") -> dict[str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def isa_level(flags: set[str]) -> str:
    """The highest instruction-set level of ``ISA_LEVELS`` whose flags are all present."""
    return next((name for name, needed in ISA_LEVELS if flags.issuperset(needed)), "baseline")


def cpu() -> dict[str, Any]:
    """CPU model, vendor, logical cores and the instruction-set level it offers."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "model": info.get("model name") or platform.processor() or platform.machine(),
        "vendor": info.get("vendor_id", ""),
        "logical_cores": os.cpu_count(),
        "isa_detected": isa_level(flags) if flags else "unknown",
    }


def _run(command: list[str], cwd: str | Path = ".") -> str | None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git(repo: str | Path) -> dict[str, Any]:
    """Commit and dirty flag of the checkout (None when git or the repository is absent)."""
    commit = _run(["git", "rev-parse", "HEAD"], repo)
    status = _run(["git", "status", "--porcelain"], repo) if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def torch_runtime(settings: dict[str, Any]) -> dict[str, Any] | None:
    """Torch build, CPU kernels used under ``settings``, threads and GPUs (None without torch)."""
    try:
        import torch

        from dynbus.detector.determinism import apply_settings
    except ImportError:
        return None
    used = apply_settings(settings, torch.device("cpu"))
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    driver = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return {
        "version": torch.__version__,
        "cpu_capability_used": used,
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": torch.get_num_interop_threads(),
        "mkldnn_enabled": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if gpus else None,
        "gpus": gpus,
        "gpu_driver": driver.splitlines()[0] if driver and gpus else None,
    }


def packages() -> dict[str, str]:
    """Every installed distribution and its version, sorted by name."""
    found = {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}
    return dict(sorted((name, version) for name, version in found.items() if name))


def environment(settings: dict[str, Any], repo: str | Path) -> dict[str, Any]:
    """The whole record (see the module docstring)."""
    return {
        "cpu": cpu(),
        "torch": torch_runtime(settings),
        "reproducibility": {
            **settings,
            "env": {name: os.environ.get(name) for name in REPRODUCIBILITY_ENV},
        },
        "python": {
            "version": platform.python_version(),
            "implementation": sys.implementation.name,
            "platform": platform.platform(),
        },
        "git": git(repo),
        "packages": packages(),
    }


def flatten(record: dict[str, Any]) -> pd.DataFrame:
    """``section, key, value`` rows; nested mappings give dotted keys, lists are joined by '; '."""
    rows = []

    def walk(section: str, prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(section, f"{prefix}.{key}" if prefix else str(key), item)
        else:
            text = "; ".join(map(str, value)) if isinstance(value, list) else value
            rows.append((section, prefix, "" if text is None else str(text)))

    for section, value in record.items():
        walk(section, "", value)
    return pd.DataFrame(rows, columns=["section", "key", "value"])


def to_markdown(table: pd.DataFrame) -> str:
    """Markdown table of everything but the package list (which is counted)."""
    shown = table[table["section"] != "packages"]
    lines = ["| section | key | value |", "|--|--|--|"]
    lines += [f"| {r.section} | {r.key} | {r.value} |" for r in shown.itertuples(index=False)]
    lines.append(f"| packages | installed | {int((table['section'] == 'packages').sum())} |")
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> None:
    """Write the environment record as JSON, CSV, Markdown and HTML."""
    record = environment(load(args.config)["reproducibility"], args.repo)
    out = Path(args.out)
    table = flatten(record)
    write_json(out, record)
    write_csv(out.with_suffix(".csv"), table)
    with atomic_open(out.with_suffix(".md"), encoding="utf-8") as handle:
        handle.write(to_markdown(table))
    with atomic_open(out.with_suffix(".html"), encoding="utf-8") as handle:
        handle.write(to_html(table, "Machine, instruction set, threads and software", index=False))
    print(
        f"{record['cpu']['model']} ({record['cpu']['isa_detected']}), "
        f"{len(record['packages'])} packages, commit {record['git']['commit']}",
        file=sys.stderr,
    )
