"""``dynbus train``: train the detector on the train split, pick the best epoch by val AP@0.5.

Writes to ``--out``: ``detector.pt`` (best epoch: "the optimal model"), ``checkpoint.pt`` (last
epoch, for ``--resume``), ``metrics.csv`` and ``training.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader

from dynbus.atomic import write_csv
from dynbus.config import add_config_argument, load
from dynbus.errors import DynbusError, InputFileError

from . import checkpoint
from .data import (
    EpochSampler,
    FrameDataset,
    collate,
    list_frames,
    read_annotations,
    split_sequences,
)
from .determinism import apply_settings
from .engine import evaluate, train_one_epoch
from .model import build_model, load_weights
from .optim import build_optimizer, build_scheduler
from .plot import plot_training
from .runtime import add_device_argument, pick_device, seed_everything

CHECKPOINT_KEYS = ("model", "optimizer", "lr_scheduler", "scaler", "epoch", "config", "history")


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus train``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    parser.add_argument("--frames", required=True, help="frames folder (frames/{sequence}/*.png)")
    parser.add_argument("--annotations", required=True, help="annotations.csv of the sequences")
    parser.add_argument("--splits", required=True, help="splits.csv (train and val are used)")
    parser.add_argument("--out", required=True, help="output folder (detector.pt, metrics.csv...)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.pt after the last finished epoch",
    )
    add_device_argument(parser)
    add_config_argument(parser)
    return parser


def _dataset(args: argparse.Namespace, split: str, stride: int, boxes: dict) -> FrameDataset:
    dataset = FrameDataset(
        list_frames(args.frames, split_sequences(args.splits, split), stride), boxes
    )
    if not any(dataset.has_mass(i) for i in range(len(dataset))):
        raise InputFileError(
            args.annotations,
            f"no annotated mass in any frame of the {split!r} split "
            f"(of {args.splits}); the detector needs positives to {split}",
        )
    return dataset


def _loader(
    dataset: FrameDataset,
    batch_size: int,
    workers: int,
    device: torch.device,
    sampler: EpochSampler | None = None,
) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )


def _resume(path: Path, config: dict[str, Any], parts: dict[str, Any]) -> dict[str, Any]:
    state = checkpoint.load(path, CHECKPOINT_KEYS)
    for section in ("model", "train"):
        if state["config"][section] != config[section]:
            raise InputFileError(
                path,
                f"was trained with a different '{section}' configuration; "
                "start a new run without --resume",
            )
    for name, part in parts.items():
        part.load_state_dict(state[name])
    return state


def main(args: argparse.Namespace) -> None:
    """Train, validate each epoch, keep the best epoch; resumable after a kill."""
    config = load(args.config)
    train_cfg = config["train"]
    device = pick_device(args.device)
    apply_settings(config["reproducibility"], device)
    seed_everything(train_cfg["seed"], device)
    boxes = read_annotations(args.annotations)
    train_set = _dataset(args, "train", 1, boxes)
    val_set = _dataset(args, "val", train_cfg["val_stride"], boxes)
    sampler = EpochSampler(
        train_set, train_cfg["negative_ratio"], train_cfg["seed"], train_cfg["frame_stride"]
    )
    workers = train_cfg["workers"]
    train_loader = _loader(train_set, train_cfg["batch_size"], workers, device, sampler)
    val_loader = _loader(val_set, config["infer"]["batch_size"], workers, device)

    model = build_model(config["model"])
    if config["model"]["weights"] != "none":
        print(load_weights(model, config["model"]["weights"]), file=sys.stderr)
    model.to(device)
    optimizer = build_optimizer(model, train_cfg)
    lr_scheduler = build_scheduler(optimizer, train_cfg, len(train_loader))
    scaler = torch.amp.GradScaler(device.type, enabled=train_cfg["amp"] and device.type == "cuda")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []
    start = 0
    if args.resume and (out / "checkpoint.pt").is_file():
        parts = {
            "model": model,
            "optimizer": optimizer,
            "lr_scheduler": lr_scheduler,
            "scaler": scaler,
        }
        state = _resume(out / "checkpoint.pt", config, parts)
        history, start = state["history"], state["epoch"] + 1
        print(f"resuming after epoch {start} of {train_cfg['epochs']}", file=sys.stderr)
    print(
        f"training {config['model']['arch']} on {device}: {len(sampler)} frames/epoch "
        f"({len(sampler.positives)} with a mass), {len(val_set)} val frames",
        file=sys.stderr,
    )

    for epoch in range(start, train_cfg["epochs"]):
        began = time.perf_counter()
        torch.manual_seed(train_cfg["seed"] * 100_003 + epoch)  # RPN/ROI sampling, scale jitter
        sampler.set_epoch(epoch)
        stats = train_one_epoch(
            model,
            optimizer,
            lr_scheduler,
            scaler,
            train_loader,
            device,
            epoch,
            train_cfg["clip_grad_norm"],
        )
        val_ap = evaluate(model, val_loader, device, epoch)
        best = max((row["val_ap50"] for row in history), default=-1.0)
        history.append(
            {
                "epoch": epoch + 1,
                **stats,
                "val_ap50": val_ap,
                "lr": optimizer.param_groups[0]["lr"],
                "time_s": time.perf_counter() - began,
            }
        )
        print(
            f"epoch {epoch + 1}: loss {stats['loss']:.4f}, val AP@0.5 {val_ap:.4f}, "
            f"{stats['images_per_s']:.2f} images/s",
            file=sys.stderr,
        )
        if val_ap > best:
            checkpoint.save(
                out / "detector.pt",
                {
                    "model": model.state_dict(),
                    "config": config,
                    "epoch": epoch + 1,
                    "val_ap50": val_ap,
                },
            )
        metrics = pd.DataFrame(history)
        write_csv(out / "metrics.csv", metrics)
        plot_training(metrics, out / "training.png")
        checkpoint.save(
            out / "checkpoint.pt",
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "lr_scheduler": lr_scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch,
                "config": config,
                "history": history,
            },
        )
    if not (out / "detector.pt").is_file():
        raise DynbusError(f"{out}: checkpoint.pt is complete but detector.pt is missing")
