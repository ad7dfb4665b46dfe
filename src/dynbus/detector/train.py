"""``dynbus train``: train the detector on the train split, pick the best epoch by val AP@0.5.

Writes to ``--out``: ``detector.pt`` (best epoch: "the optimal model"), ``metrics.csv`` and
``training.png``, updated after every epoch; the training state for ``--resume`` /
``--auto-resume`` goes to ``OUT/resume/state.pt`` (see ``resume``).
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

from dynbus.config import add_config_argument, load
from dynbus.errors import InputFileError, ResumableStop
from dynbus.io.atomic import write_csv

from . import checkpoint, resume
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
from .runtime import add_device_argument, add_workers_argument, pick_device, seed_everything
from .timelimit import TimeLimit


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus train``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    parser.add_argument("--frames", required=True, help="frames folder (frames/{sequence}/*.png)")
    parser.add_argument("--annotations", required=True, help="annotations.csv of the sequences")
    parser.add_argument("--splits", required=True, help="splits.csv (train and val are used)")
    parser.add_argument("--out", required=True, help="output folder (detector.pt, metrics.csv...)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in OUT/resume/ after its last finished epoch; an error if "
        "there is none, or it was saved with another configuration or other inputs",
    )
    mode.add_argument(
        "--auto-resume",
        action="store_true",
        help="continue the run saved in OUT/resume/ if it has this configuration and these "
        "inputs, else discard it and start afresh (the workflow's mode)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="MINUTES",
        help="wall time this process may use: after an epoch, stop (exit status 75, state "
        "saved) when the next one might not end in time; the same command continues",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads of torch (default: torch's own)"
    )
    add_device_argument(parser)
    add_workers_argument(parser)
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
    # Its own generator: a DataLoader otherwise draws its workers' base seed from torch's global
    # generator whenever it starts an iterator (every epoch, or once with persistent workers),
    # shifting the RPN/ROI sampling stream by the worker setting and by where a run resumed.
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )


def _cpu_copy(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in weights.items()}


def _longest_epoch(state: dict[str, Any]) -> float:
    return max((row["time_s"] for row in state["history"]), default=0.0)


def _export(out: Path, config: dict[str, Any], state: dict[str, Any]) -> None:
    """Write the outputs of a (possibly unfinished) run from its training state."""
    checkpoint.save(out / "detector.pt", {**state["best"], "config": config})
    metrics = pd.DataFrame(state["history"])
    write_csv(out / "metrics.csv", metrics)
    plot_training(metrics, out / "training.png")


def _initial_state(
    args: argparse.Namespace, out: Path, run: dict[str, str], parts: dict[str, Any]
) -> dict[str, Any]:
    """The saved state to continue (loaded into ``parts``), or a fresh one."""
    state = None
    if args.resume or args.auto_resume:
        state = resume.find(out, run, required=args.resume)
    if state is None:
        if resume.state_path(out).is_file():
            print(
                f"starting afresh: {resume.state_path(out)} is replaced after epoch 1",
                file=sys.stderr,
            )
        return {"epoch": 0, "history": [], "best": {"val_ap50": -1.0}}
    for name, part in parts.items():
        part.load_state_dict(state[name])
    print(f"continuing the run saved in {resume.state_path(out)}", file=sys.stderr)
    return state


def main(args: argparse.Namespace) -> None:
    """Train, validate each epoch, keep the best epoch; resumable after a kill or a time limit."""
    limit = TimeLimit(args.time_limit, time.monotonic())
    config = load(args.config)
    train_cfg = config["train"]
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    apply_settings(config["reproducibility"], device)
    seed_everything(train_cfg["seed"], device)
    boxes = read_annotations(args.annotations)
    train_set = _dataset(args, "train", 1, boxes)
    val_set = _dataset(args, "val", train_cfg["val_stride"], boxes)
    sampler = EpochSampler(
        train_set, train_cfg["negative_ratio"], train_cfg["seed"], train_cfg["frame_stride"]
    )
    train_loader = _loader(train_set, train_cfg["batch_size"], args.workers, device, sampler)
    val_loader = _loader(val_set, config["infer"]["batch_size"], args.workers, device)

    model = build_model(config["model"])
    if config["model"]["weights"] != "none":
        print(load_weights(model, config["model"]["weights"]), file=sys.stderr)
    model.to(device)
    optimizer = build_optimizer(model, train_cfg)
    lr_scheduler = build_scheduler(optimizer, train_cfg, len(train_loader))
    scaler = torch.amp.GradScaler(device.type, enabled=train_cfg["amp"] and device.type == "cuda")
    parts = {"model": model, "optimizer": optimizer, "lr_scheduler": lr_scheduler, "scaler": scaler}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs, state_file = train_cfg["epochs"], resume.state_path(out)
    run = resume.run_identity(config, args.annotations, args.splits, train_set.refs + val_set.refs)
    state = _initial_state(args, out, run, parts)
    print(
        f"training {config['model']['arch']} on {device}: {len(sampler)} frames/epoch "
        f"({len(sampler.positives)} with a mass), {len(val_set)} val frames",
        file=sys.stderr,
    )

    start = state["epoch"]
    if start < epochs:
        print(
            f"{'resuming' if start else 'starting'} at epoch {start + 1} of {epochs}",
            file=sys.stderr,
        )
    if state["history"] and not limit.fits(_longest_epoch(state)):
        print(
            f"warning: an epoch took {_longest_epoch(state) / 60:.1f} min, too long for "
            f"--time-limit {args.time_limit:g} min: this process runs one epoch at most",
            file=sys.stderr,
        )
    for epoch in range(start, epochs):
        if epoch > start and not limit.fits(_longest_epoch(state)):
            raise ResumableStop(
                f"after epoch {epoch} of {epochs}, as epoch {epoch + 1} might not end within "
                f"--time-limit {args.time_limit:g} min; the state is saved in "
                f"{state_file.parent}: the same command continues at epoch {epoch + 1}"
            )
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
        state["history"].append(
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
        if val_ap > state["best"]["val_ap50"]:
            state["best"] = {
                "model": _cpu_copy(model.state_dict()),
                "epoch": epoch + 1,
                "val_ap50": val_ap,
            }
        state.update({name: part.state_dict() for name, part in parts.items()})
        state.update(epoch=epoch + 1, run=run, config=config)
        resume.save(out, state)
        _export(out, config, state)
    if start == epochs:
        print(f"all {epochs} epochs were done: writing the outputs", file=sys.stderr)
        _export(out, config, state)
