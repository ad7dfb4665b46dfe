"""Optimizer and per-iteration learning-rate schedule (linear warm-up, then cosine or steps)."""

from __future__ import annotations

import bisect
import math
from typing import Any

import torch

WARMUP_START = 0.001


def build_optimizer(model: torch.nn.Module, train_cfg: dict[str, Any]) -> torch.optim.Optimizer:
    """SGD (momentum) or AdamW over the trainable parameters, from ``train_cfg``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if train_cfg["optimizer"] == "sgd":
        return torch.optim.SGD(
            params,
            lr=train_cfg["lr"],
            momentum=train_cfg["momentum"],
            weight_decay=train_cfg["weight_decay"],
        )
    return torch.optim.AdamW(params, lr=train_cfg["lr"], weight_decay=train_cfg["weight_decay"])


def build_scheduler(
    optimizer: torch.optim.Optimizer, train_cfg: dict[str, Any], iters_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """LR factor per iteration: linear warm-up over ``warmup_iters``, then cosine to 0, or a
    factor ``lr_gamma`` after each of ``lr_steps`` epochs (like ``MultiStepLR`` milestones)."""
    total = max(1, train_cfg["epochs"] * iters_per_epoch)
    warmup = train_cfg["warmup_iters"]
    steps = sorted(train_cfg["lr_steps"])

    def factor(iteration: int) -> float:
        if train_cfg["lr_schedule"] == "cosine":
            value = 0.5 * (1.0 + math.cos(math.pi * min(iteration, total) / total))
        else:
            epoch = iteration // iters_per_epoch
            value = train_cfg["lr_gamma"] ** bisect.bisect_right(steps, epoch)
        if iteration < warmup:
            value *= WARMUP_START + (1.0 - WARMUP_START) * iteration / warmup
        return value

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
