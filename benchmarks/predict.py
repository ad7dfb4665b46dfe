"""Throughput of ``dynbus predict`` vs the study's ``dynbus infer`` on the same frames.

A small simulated study (``dynbus simulate``) and a package of a random-weight detector (demo
config by default, sized like the tiny tests):

- predict: ``dynbus predict``'s ``main`` end to end on the raw DICOM folder (de-identification,
  frames, inference, fusion, overlay videos, tables);
- infer: ``dynbus infer``'s ``main`` on the frames predict's own data path writes for the same
  files (PNG decoding, batched forward, CSV + COCO JSON).

Infer runs once to warm up, then each is timed once. Goal: predict >= 0.9x infer. Also printed:
predict's seconds per 100 frames of cine on CPU.

    .venv/bin/python benchmarks/predict.py [--patients 2] [--frames 12]
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

from dynbus.config import validate  # noqa: E402
from dynbus.deid.pseudonyms import demo_key  # noqa: E402
from dynbus.detector import infer  # noqa: E402
from dynbus.detector.checkpoint import save  # noqa: E402
from dynbus.detector.model import build_model  # noqa: E402
from dynbus.model import predict  # noqa: E402
from dynbus.model.inputs import prepare_inputs  # noqa: E402
from dynbus.model.package import model_yaml, write_package  # noqa: E402
from tests.conftest import simulate_study, tiny_config  # noqa: E402


def timed(main, args: argparse.Namespace) -> float:
    """Seconds ``main(args)`` takes."""
    start = time.perf_counter()
    main(args)
    return time.perf_counter() - start


def main() -> None:
    """Print both throughputs, their ratio and predict's seconds per 100 frames."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2, help="simulated patients")
    parser.add_argument("--frames", type=int, default=12, help="frames per cine")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    args = parser.parse_args()
    config = validate(tiny_config())
    frames = [args.frames, args.frames]
    simulate = {**config["simulate"], "patients": args.patients, "frames": frames}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        simulate_study(root / "raw", simulate)
        torch.manual_seed(0)
        model = build_model(config["model"], score_floor=config["infer"]["score_floor"])
        save(root / "detector.pt", {"model": model.state_dict(), "config": config, "epoch": 0})
        write_package(root / "package", root / "detector.pt", model_yaml(config, [], {}), {})
        key = demo_key(config["simulate"]["seed"])
        (root / "key.hex").write_text(key.hex() + "\n")
        prepared = prepare_inputs([root / "raw"], root / "work", key, config["deid"], "skip", 1)
        n_frames = sum(prepared.sequences.values())
        splits = root / "splits.csv"
        splits.write_text(
            "sequence_id,split\n" + "".join(f"{s},test\n" for s in sorted(prepared.sequences))
        )
        infer_args = infer.get_args_parser().parse_args(
            ["--model", str(root / "detector.pt"), "--frames", str(root / "work/frames"),
             "--splits", str(splits), "--split", "test", "--out", str(root / "test.csv"),
             "--device", "cpu", "--workers", str(args.workers), "--config", json.dumps(config)]
        )  # fmt: skip
        predict_args = predict.get_args_parser().parse_args(
            [str(root / "package"), str(root / "raw"), "--out", str(root / "out"),
             "--key", str(root / "key.hex"), "--on-bad-input", "skip", "--device", "cpu",
             "--workers", str(args.workers)]
        )  # fmt: skip
        timed(infer.main, infer_args)  # warm-up
        predict_s = timed(predict.main, predict_args)
        infer_s = timed(infer.main, infer_args)
    print(
        f"model {config['model']['arch']}, frames {config['simulate']['rows']}x"
        f"{config['simulate']['columns']}, {len(prepared.sequences)} cines, {n_frames} frames, "
        f"batch {config['infer']['batch_size']}, workers {args.workers}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"dynbus infer (frames already written): {n_frames / infer_s:6.2f} frames/s")
    print(
        f"dynbus predict (raw DICOM to overlays): {n_frames / predict_s:6.2f} frames/s  "
        f"({infer_s / predict_s:.2f}x infer, goal >= 0.9)"
    )
    print(f"dynbus predict: {100 * predict_s / n_frames:.1f} s per 100-frame cine on CPU")


if __name__ == "__main__":
    main()
