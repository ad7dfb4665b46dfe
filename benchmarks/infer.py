"""Inference throughput of ``dynbus infer`` vs a bare torchvision forward, side by side.

Same model (demo config by default, random weights), batch size and frame size:

- pipeline: ``dynbus infer``'s ``main`` end to end (PNG decoding in DataLoader workers, batched
  forward under ``torch.inference_mode``, CSV + COCO JSON writing);
- bare: ``model(images)`` under ``torch.inference_mode`` on tensors already in memory.

Goal: pipeline >= 0.9x bare.

    .venv/bin/python benchmarks/infer.py [--config FILE_OR_JSON] [--frames 96]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynbus.config import load  # noqa: E402
from dynbus.detector import infer  # noqa: E402
from dynbus.detector.checkpoint import save  # noqa: E402
from dynbus.detector.data import FrameDataset, collate, list_frames, split_sequences  # noqa: E402
from dynbus.detector.model import build_model  # noqa: E402
from tests.detector_fixtures import write_inputs  # noqa: E402


def bare_rate(model: torch.nn.Module, dataset: FrameDataset, batch: int) -> float:
    """Frames/s of the model's forward on preloaded batches (second of two passes)."""
    items = [dataset[i] for i in range(len(dataset))]
    batches = [collate(items[i : i + batch])[0] for i in range(0, len(items), batch)]
    model.eval()
    seconds = 0.0
    with torch.inference_mode():
        for _ in range(2):  # the first pass warms up, the second is timed
            start = time.perf_counter()
            for images in batches:
                model(list(images))
            seconds = time.perf_counter() - start
    return len(items) / seconds


def pipeline_rate(argv: list[str], n_frames: int) -> float:
    """Frames/s of ``dynbus infer`` end to end (second of two runs)."""
    args = infer.get_args_parser().parse_args(argv)
    seconds = 0.0
    for _ in range(2):
        start = time.perf_counter()
        infer.main(args)
        seconds = time.perf_counter() - start
    return n_frames / seconds


def main() -> None:
    """Print both throughputs and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="dynbus config (default: the demo)")
    parser.add_argument("--frames", type=int, default=96, help="frames in the split")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    args = parser.parse_args()
    config = load(args.config)
    shape = (config["model"]["min_size"], config["model"]["max_size"])
    per_sequence = 16
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = write_inputs(
            root,
            counts={"test": -(-args.frames // per_sequence)},
            negatives=0,
            n_frames=per_sequence,
            shape=shape,
        )
        torch.manual_seed(0)
        model = build_model(config["model"], score_floor=config["infer"]["score_floor"])
        save(root / "detector.pt", {"model": model.state_dict(), "config": config, "epoch": 0})
        dataset = FrameDataset(list_frames(data.frames, split_sequences(data.splits, "test")), {})
        bare = bare_rate(model, dataset, config["infer"]["batch_size"])
        argv = [
            "--model",
            str(root / "detector.pt"),
            "--frames",
            str(data.frames),
            "--splits",
            str(data.splits),
            "--split",
            "test",
            "--out",
            str(root / "test.csv"),
            "--device",
            "cpu",
            "--workers",
            str(args.workers),
            "--config",
            json.dumps(config),
        ]
        pipeline = pipeline_rate(argv, len(dataset))
    print(
        f"model {config['model']['arch']}, frames {shape[0]}x{shape[1]}, batch "
        f"{config['infer']['batch_size']}, workers {args.workers}, "
        f"torch threads {torch.get_num_threads()}, {len(dataset)} frames"
    )
    print(f"bare torchvision forward: {bare:6.2f} frames/s")
    print(
        f"dynbus infer (end to end): {pipeline:6.2f} frames/s  "
        f"({pipeline / bare:.2f}x bare, goal >= 0.9)"
    )


if __name__ == "__main__":
    main()
