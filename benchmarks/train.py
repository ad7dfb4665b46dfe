"""Training throughput of the ``dynbus train`` pipeline vs a bare torchvision step, and peak RSS.

Side by side in one run, on the same model, batch size and frame size (demo config by default):

- pipeline: ``train_one_epoch`` over the DataLoader of PNG frames (workers, augmentation,
  sampler, LR schedule, gradient clipping), exactly as ``dynbus train`` runs it;
- bare: forward + backward + optimizer step on tensors already in memory.

Then one epoch of the real ``dynbus train`` command in a subprocess gives the peak memory (max
RSS of the training process and its DataLoader workers). Goal: pipeline >= 0.9x bare, RSS <= 4 GiB.

Both rates are measured under each candidate ``reproducibility`` setting, each in a fresh process
(torch fixes its CPU kernels once), and printed with their ratio to today's ``avx2-onednn``:

- ``native``: the fastest kernels of this CPU (ATen, oneDNN, MKL as they dispatch);
- ``avx2-onednn`` (``cpu_isa: avx2, portable: false``): ATen, oneDNN and MKL capped at AVX2;
- ``avx2-portable`` (``cpu_isa: avx2, portable: true``): ATen at AVX2, oneDNN and NNPACK off,
  MKL in its COMPATIBLE CNR branch (the same bits on Intel and AMD CPUs).

    .venv/bin/python benchmarks/train.py [--config FILE_OR_JSON] [--images 64]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynbus.config import load  # noqa: E402
from dynbus.detector.data import (  # noqa: E402
    EpochSampler,
    FrameDataset,
    collate,
    list_frames,
    read_annotations,
    split_sequences,
)
from dynbus.detector.determinism import apply_settings  # noqa: E402
from dynbus.detector.engine import train_one_epoch  # noqa: E402
from dynbus.detector.model import build_model  # noqa: E402
from dynbus.detector.optim import build_optimizer, build_scheduler  # noqa: E402
from tests.detector_fixtures import write_inputs  # noqa: E402


def pipeline_rate(config: dict, data, images: int, workers: int) -> float:  # noqa: ANN001
    """Images/s of ``train_one_epoch`` over the real DataLoader (after one warm-up epoch)."""
    train_cfg = config["train"]
    dataset = FrameDataset(
        list_frames(data.frames, split_sequences(data.splits, "train")),
        read_annotations(data.annotations),
    )
    sampler = EpochSampler(dataset, train_cfg["negative_ratio"], train_cfg["seed"])
    sampler.positives = sampler.positives[:images]
    sampler.n_negatives = 0
    loader = DataLoader(
        dataset,
        batch_size=train_cfg["batch_size"],
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        persistent_workers=workers > 0,
    )
    torch.manual_seed(0)
    model = build_model(config["model"])
    optimizer = build_optimizer(model, train_cfg)
    scheduler = build_scheduler(optimizer, train_cfg, len(loader))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    rates = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        stats = train_one_epoch(
            model,
            optimizer,
            scheduler,
            scaler,
            loader,
            torch.device("cpu"),
            epoch,
            train_cfg["clip_grad_norm"],
        )
        rates.append(stats["images_per_s"])
    return rates[-1]


def bare_rate(config: dict, data, images: int) -> float:  # noqa: ANN001
    """Images/s of model(images, targets) + backward + step on preloaded tensors."""
    train_cfg = config["train"]
    dataset = FrameDataset(
        list_frames(data.frames, split_sequences(data.splits, "train")),
        read_annotations(data.annotations),
    )
    items = [dataset[i] for i in range(len(dataset)) if dataset.has_mass(i)][:images]
    batch = train_cfg["batch_size"]
    batches = [collate(items[i : i + batch]) for i in range(0, len(items), batch)]
    torch.manual_seed(0)
    model = build_model(config["model"]).train()
    optimizer = build_optimizer(model, train_cfg)
    seconds = 0.0
    for _ in range(2):  # the first pass warms up, the second is timed
        start = time.perf_counter()
        for images_, targets, _ in batches:
            loss = sum(model(list(images_), list(targets)).values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
    return len(items) / seconds


def peak_rss_gib(config: dict, data, out: Path) -> tuple[float, float]:  # noqa: ANN001
    """Run one epoch of ``dynbus train``; return (peak RSS GiB of its processes, seconds)."""
    one_epoch = {**config, "train": {**config["train"], "epochs": 1}}
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dynbus",
            "train",
            "--frames",
            str(data.frames),
            "--annotations",
            str(data.annotations),
            "--splits",
            str(data.splits),
            "--out",
            str(out),
            "--config",
            json.dumps(one_epoch),
            "--device",
            "cpu",
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, seconds


SETTINGS = {
    "native": {"cpu_isa": "native", "portable": False},
    "avx2-onednn": {"cpu_isa": "avx2", "portable": False},
    "avx2-portable": {"cpu_isa": "avx2", "portable": True},
}
BASELINE = "avx2-onednn"


def rates(config: dict, images: int, setting: str, workers: int) -> dict[str, float]:
    """Bare and pipeline images/s under ``SETTINGS[setting]`` (run in a fresh process)."""
    apply_settings({**config["reproducibility"], **SETTINGS[setting]}, torch.device("cpu"))
    shape = (config["model"]["min_size"], config["model"]["max_size"])
    with tempfile.TemporaryDirectory() as tmp:
        data = _inputs(Path(tmp), images, shape)
        return {
            "bare": bare_rate(config, data, images),
            "pipeline": pipeline_rate(config, data, images, workers),
            "kernels": torch.backends.cpu.get_cpu_capability(),
        }


def _inputs(root: Path, images: int, shape: tuple[int, int]):  # noqa: ANN202
    per_sequence = 12
    count = -(-images // per_sequence)
    return write_inputs(
        root, counts={"train": count, "val": 1, "test": 1}, n_frames=per_sequence, shape=shape
    )


def main() -> None:
    """Print both throughputs with and without the pin, their ratios and the peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="dynbus config (default: the demo)")
    parser.add_argument("--images", type=int, default=48, help="images per timed pass")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument(
        "--setting",
        choices=sorted(SETTINGS),
        default=None,
        help="measure this setting only and print JSON (the parent's child run)",
    )
    args = parser.parse_args()
    config = load(args.config)
    if args.setting:
        print(json.dumps(rates(config, args.images, args.setting, args.workers)))
        return
    measured = {}
    for setting in SETTINGS:
        command = [sys.executable, __file__, "--images", str(args.images), "--setting", setting]
        command += ["--workers", str(args.workers)]
        command += ["--config", args.config] if args.config else []
        child = subprocess.run(command, check=True, capture_output=True, text=True)
        measured[setting] = json.loads(child.stdout.splitlines()[-1])
    shape = (config["model"]["min_size"], config["model"]["max_size"])
    with tempfile.TemporaryDirectory() as tmp:
        data = _inputs(Path(tmp), args.images, shape)
        rss, seconds = peak_rss_gib(config, data, Path(tmp) / "model")
    print(
        f"model {config['model']['arch']}, frames {shape[0]}x{shape[1]}, batch "
        f"{config['train']['batch_size']}, workers {args.workers}, "
        f"torch threads {config['reproducibility']['threads'] or torch.get_num_threads()}"
    )
    base = measured[BASELINE]
    for setting, rate in measured.items():
        print(
            f"{setting:<13} ({rate['kernels']} kernels): bare torchvision step "
            f"{rate['bare']:6.2f} images/s, dynbus train pipeline {rate['pipeline']:6.2f} "
            f"images/s ({rate['pipeline'] / rate['bare']:.2f}x bare, goal >= 0.9); "
            f"training time {base['pipeline'] / rate['pipeline']:.2f}x {BASELINE}"
        )
    print(
        f"dynbus train, one epoch + validation + start-up: {seconds:.1f} s, "
        f"peak RSS {rss:.2f} GiB (goal <= 4)"
    )


if __name__ == "__main__":
    main()
