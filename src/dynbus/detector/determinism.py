"""Pin what makes a training differ between machines: CPU kernels, thread count, CUDA algorithms.

Three things decide a CPU training's bits beyond the seed (measured with ``dynbus probe``, see
docs/reproducibility.md):

- ATen's own kernels per instruction set (``ATEN_CPU_CAPABILITY``: the random weight init
  and every reduction differ between AVX2 and the other levels), and the intra-op thread count
  (ATen's parallel reductions split the work by thread);
- oneDNN's convolutions, which choose their JIT kernel and blocking per CPU (instruction set,
  cache sizes), so a cap on its instruction set still leaves CPU models apart;
- MKL's sgemm, whose code path depends on the CPU vendor and model unless its conditional
  numerical reproducibility (CNR) branch is ``COMPATIBLE``: the only branch Intel documents as
  giving the same results on Intel and non-Intel CPUs (its ``AVX2`` branch falls back to the
  automatic one on non-Intel CPUs).

``portable: true`` therefore turns oneDNN and NNPACK off (convolutions run as im2col + MKL
sgemm) and sets ``MKL_CBWR=COMPATIBLE``; ``portable: false`` keeps 0.6.1's faster oneDNN kernels,
capped at AVX2, which reproduce on the same CPU model only. torch reads the environment caps
when it runs its first operation, so ``apply_settings`` must run before the stage's first
tensor operation (``dynbus train``, ``dynbus infer`` and ``dynbus probe`` call it first thing).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch

# reproducibility.cpu_isa -> the ATen capability it pins (native: none).
CPU_ISA_ENV: dict[str, dict[str, str]] = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2"}}
# reproducibility.portable -> the library settings it implies.
LIBRARY_ENV: dict[bool, dict[str, str]] = {
    True: {"MKL_CBWR": "COMPATIBLE"},
    False: {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
}
CUBLAS_WORKSPACE = ":4096:8"


def settings_env(settings: dict[str, Any]) -> dict[str, str]:
    """The environment variables ``apply_settings`` sets for ``settings``."""
    pinned = dict(CPU_ISA_ENV.get(settings["cpu_isa"], {}))
    if settings["cpu_isa"] != "native":
        pinned.update(LIBRARY_ENV[settings["portable"]])
    return pinned


def apply_settings(settings: dict[str, Any], device: torch.device) -> str:
    """Apply the ``reproducibility`` config section; return the CPU capability torch uses.

    A CPU without the pinned instruction set, or a process where torch already ran operations
    with other kernels, cannot be pinned: that is reported on stderr, not an error.
    """
    pinned = settings_env(settings)
    os.environ.update(pinned)
    portable = settings["portable"] and settings["cpu_isa"] != "native"
    torch.backends.mkldnn.enabled = not portable
    torch.backends.nnpack.set_flags(not portable)
    if settings["threads"]:
        torch.set_num_threads(settings["threads"])
    if device.type == "cuda" and settings["cuda_deterministic"]:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    used = torch.backends.cpu.get_cpu_capability()
    library = "im2col + MKL (CNR COMPATIBLE)" if portable else "oneDNN"
    print(
        f"torch CPU kernels: {used}, {torch.get_num_threads()} threads, convolutions: {library}",
        file=sys.stderr,
    )
    if "ATEN_CPU_CAPABILITY" in pinned and used.lower() != pinned["ATEN_CPU_CAPABILITY"]:
        print(
            f"warning: reproducibility.cpu_isa is {settings['cpu_isa']!r} but torch uses {used} "
            "kernels (CPU without it, or torch already initialised): results may differ "
            "from other machines",
            file=sys.stderr,
        )
    return used
