"""Throughput of ``dynbus predict`` vs the study's ``dynbus infer`` on the same frames.

A small simulated study (``dynbus simulate``) and a package of a random-weight detector (demo
config by default, sized like the tiny tests). Two comparisons, in one process:

- end to end: ``dynbus predict``'s ``main`` on the raw DICOM folder (de-identification with its
  burned-in text check, frame writing, inference, fusion, overlay videos, tables) against
  ``dynbus infer``'s ``main`` on frames already prepared (the frames predict's own data path
  writes for the same files: PNG decoding, batched forward, CSV + COCO JSON);
- detection alone: predict's call of ``dynbus.detector.infer.detect`` against infer's call of it
  on the same frames (both read the same PNGs; the rest is the difference between the two).

Each command runs once to warm up (imports, encoder probe), then ``--repeats`` times in turn; the
fastest run of each counts, in wall time and in CPU time (this process and its reaped workers: on
a machine shared with other jobs the wall time swings, the CPU time much less). Also printed:
predict's time per stage and its seconds per 100 frames of cine on CPU. Goal: predict >= 0.9x
infer end to end.

    .venv/bin/python benchmarks/predict.py [--patients 2] [--frames 12] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynbus.config import validate  # noqa: E402
from dynbus.deid.pseudonyms import demo_key  # noqa: E402
from dynbus.detector import infer  # noqa: E402
from dynbus.detector.checkpoint import save  # noqa: E402
from dynbus.detector.determinism import apply_settings  # noqa: E402
from dynbus.detector.model import build_model  # noqa: E402
from dynbus.model import predict  # noqa: E402
from dynbus.model.inputs import prepare_inputs  # noqa: E402
from dynbus.model.package import model_yaml, write_package  # noqa: E402
from tests.conftest import simulate_study, tiny_config  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (DataLoader workers, forked pools)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


STAGES = {
    (predict, "prepare_inputs"): "predict: de-identification and frames",
    (predict, "detect"): "predict: detection",
    (predict, "write_results"): "predict: fusion, overlays, tables",
    (infer, "detect"): "infer: detection",
}


def record_stages(seconds: dict[str, tuple[float, float]]) -> None:
    """Wrap the stage functions (as the two modules call them) to record their (wall, CPU)
    seconds in ``seconds``."""

    def timer(name: str, function: Callable) -> Callable:
        def timed_stage(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            start, start_cpu = time.perf_counter(), cpu_seconds()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] = (time.perf_counter() - start, cpu_seconds() - start_cpu)

        return timed_stage

    for (module, attribute), name in STAGES.items():
        setattr(module, attribute, timer(name, getattr(module, attribute)))


def timed(
    main: Callable, args: argparse.Namespace, seconds: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """The (wall, CPU) seconds of one ``main(args)`` run's stages and of the whole (``total``)."""
    seconds.clear()
    start, start_cpu = time.perf_counter(), cpu_seconds()
    main(args)
    return {**seconds, "total": (time.perf_counter() - start, cpu_seconds() - start_cpu)}


def main() -> None:
    """Print both throughputs, end to end and detection alone, and predict's stages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2, help="simulated patients")
    parser.add_argument("--frames", type=int, default=12, help="frames per cine")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each command")
    args = parser.parse_args()
    config = validate(tiny_config())
    frames = [args.frames, args.frames]
    simulate = {**config["simulate"], "patients": args.patients, "frames": frames}
    seconds: dict[str, tuple[float, float]] = {}
    record_stages(seconds)
    apply_settings(config["reproducibility"], torch.device("cpu"))  # before torch runs anything
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
        runs: dict[str, list[dict[str, tuple[float, float]]]] = {"infer": [], "predict": []}
        for repeat in range(args.repeats + 1):  # the first run of each warms up
            for name, command, command_args in (
                ("infer", infer.main, infer_args),
                ("predict", predict.main, predict_args),
            ):
                shutil.rmtree(root / "out", ignore_errors=True)
                result = timed(command, command_args, seconds)
                if repeat:
                    runs[name].append(result)
    print(
        f"model {config['model']['arch']}, frames {config['simulate']['rows']}x"
        f"{config['simulate']['columns']}, {len(prepared.sequences)} cines, {n_frames} frames, "
        f"batch {config['infer']['batch_size']}, workers {args.workers}, "
        f"torch threads {torch.get_num_threads()}; the best of {args.repeats} runs after a "
        "warm-up, wall and CPU seconds (CPU: the process and its workers)"
    )
    report(runs, n_frames)


def report(runs: dict[str, list[dict[str, tuple[float, float]]]], n_frames: int) -> None:
    """Print the comparisons from every timed run of each command (the best, by wall and CPU)."""

    def best(name: str, stage: str, kind: int) -> float:
        return min(run[stage][kind] for run in runs[name])

    comparisons = [
        ("end to end: predict (raw DICOM: de-identification, frames, detection, fusion, "
         "overlays) vs infer (frames already prepared: detection, CSV, COCO JSON)",
         "total", "total"),
        ("detection alone: dynbus.detector.infer.detect on the same PNG frames, called by "
         "predict and by infer", "predict: detection", "infer: detection"),
    ]  # fmt: skip
    for title, predict_stage, infer_stage in comparisons:
        print(title)
        for kind, unit in ((0, "wall"), (1, "CPU")):
            infer_s, predict_s = (
                best("infer", infer_stage, kind),
                best("predict", predict_stage, kind),
            )
            print(
                f"  {unit}: infer {n_frames / infer_s:6.2f} frames/s ({infer_s:.2f} s), predict "
                f"{n_frames / predict_s:6.2f} frames/s ({predict_s:.2f} s): "
                f"{infer_s / predict_s:.2f}x infer (goal >= 0.9)"
            )
    for name, times in runs.items():
        totals = ", ".join(f"{run['total'][0]:.2f}/{run['total'][1]:.2f}" for run in times)
        print(f"every timed run of {name}, wall/CPU: {totals} s")
    print("predict's stages, the best wall/CPU seconds of each:")
    for name in STAGES.values():
        if name.startswith("predict"):
            print(f"  {name}: {best('predict', name, 0):.2f}/{best('predict', name, 1):.2f}")
    print(
        f"dynbus predict: {100 * best('predict', 'total', 0) / n_frames:.1f} s wall, "
        f"{100 * best('predict', 'total', 1) / n_frames:.1f} s CPU per 100-frame cine"
    )


if __name__ == "__main__":
    main()
