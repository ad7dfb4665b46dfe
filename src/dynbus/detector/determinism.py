"""Pin what makes a training differ between machines: CPU kernels, thread count, CUDA algorithms.

PyTorch (ATen), oneDNN and MKL each pick their kernels for the processor's instruction set, and
kernels for different instruction sets (and different thread counts) sum in different orders, so
the same commit trained a different detector on an AVX-512 machine than on an AVX2 one. All
three read their caps from the environment when torch runs its first operation, so
``apply_settings`` must run before the stage's first tensor operation (``dynbus train`` and
``dynbus infer`` call it first thing).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch

# reproducibility.cpu_isa -> environment caps of ATen, oneDNN and MKL (CNR mode).
CPU_ISA_ENV: dict[str, dict[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
}
CUBLAS_WORKSPACE = ":4096:8"


def apply_settings(settings: dict[str, Any], device: torch.device) -> str:
    """Apply the ``reproducibility`` config section; return the CPU capability torch uses.

    A CPU without the pinned instruction set, or a process where torch already ran operations
    with other kernels, cannot be pinned: that is reported on stderr, not an error.
    """
    pinned = CPU_ISA_ENV.get(settings["cpu_isa"], {})
    os.environ.update(pinned)
    if settings["threads"]:
        torch.set_num_threads(settings["threads"])
    if device.type == "cuda" and settings["cuda_deterministic"]:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    used = torch.backends.cpu.get_cpu_capability()
    print(f"torch CPU kernels: {used}, {torch.get_num_threads()} threads", file=sys.stderr)
    if pinned and used.lower() != pinned["ATEN_CPU_CAPABILITY"]:
        print(
            f"warning: reproducibility.cpu_isa is {settings['cpu_isa']!r} but torch uses {used} "
            "kernels (CPU without it, or torch already initialised): results may differ "
            "from other machines",
            file=sys.stderr,
        )
    return used
