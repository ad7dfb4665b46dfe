"""One training epoch, batched prediction and frame-level AP@0.5 (torchvision reference style)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader
from torchmetrics.detection import MeanAveragePrecision
from tqdm import tqdm

from dynbus.errors import DynbusError

LOSS_PARTS = ["loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"]


def train_one_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    loader: DataLoader,
    device: torch.device,
    epoch: int,
    clip_grad_norm: float,
) -> dict[str, float]:
    """Train one epoch (scheduler stepped per iteration); return mean losses, images/s, seconds.

    A non-finite loss stops training with a DynbusError naming the epoch and iteration.
    """
    model.train()
    sums = dict.fromkeys(["loss", *LOSS_PARTS], 0.0)
    images_seen, start = 0, time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1} train", unit="batch", mininterval=5.0)
    for iteration, (images, targets, _) in enumerate(bar):
        images = [image.to(device, non_blocking=True) for image in images]
        targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        with torch.autocast(device.type, enabled=scaler.is_enabled()):
            loss_dict = model(images, targets)
            loss = sum(loss_dict.values())
        value = loss.item()
        if not math.isfinite(value):
            parts = ", ".join(f"{k}={v.item():.4g}" for k, v in loss_dict.items())
            raise DynbusError(
                f"non-finite training loss at epoch {epoch + 1}, iteration {iteration + 1} "
                f"({parts}); lower train.lr or set train.clip_grad_norm"
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip_grad_norm > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        lr_scheduler.step()
        sums["loss"] += value * len(images)
        for name in LOSS_PARTS:
            sums[name] += loss_dict[name].item() * len(images)
        images_seen += len(images)
        bar.set_postfix(loss=f"{value:.3f}", refresh=False)
    seconds = time.perf_counter() - start
    stats = {name: total / max(images_seen, 1) for name, total in sums.items()}
    stats.update(images_per_s=images_seen / seconds, train_s=seconds)
    return stats


@torch.inference_mode()
def predict(
    model: torch.nn.Module, loader: Iterable, device: torch.device, desc: str
) -> Iterator[tuple[int, dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
    """Yield ``(dataset index, prediction on CPU, target)`` for every item of ``loader``."""
    model.eval()
    for images, targets, indices in tqdm(loader, desc=desc, unit="batch", mininterval=5.0):
        outputs = model([image.to(device, non_blocking=True) for image in images])
        for index, output, target in zip(indices, outputs, targets, strict=True):
            yield index, {k: v.cpu() for k, v in output.items()}, target


def average_precision(pairs: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> float:
    """Frame-level AP at IoU 0.5 (COCO 101-point, via torchmetrics) over (prediction, target) pairs.

    Frames without a mass take part: their boxes are false positives.
    """
    metric = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5], backend="pycocotools")
    for prediction, target in pairs:
        metric.update([prediction], [target])
    return float(metric.compute()["map"])


def evaluate(model: torch.nn.Module, loader: DataLoader, device: torch.device, epoch: int) -> float:
    """AP@0.5 of ``model`` on every frame of ``loader``."""
    pairs = ((p, t) for _, p, t in predict(model, loader, device, f"epoch {epoch + 1} val"))
    return average_precision(pairs)
