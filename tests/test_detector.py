"""Detector stages through the real CLI and real torchvision models on tiny generated frames:
training outputs, kill + --resume and time-limited runs equal an uninterrupted run, stale or
missing saved states are reported, inference schema and coverage, clear errors on bad inputs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dynbus import cli
from dynbus.detector import infer, resume, train
from dynbus.detector.timelimit import TimeLimit
from dynbus.errors import InputFileError
from tests import detector_fixtures, in_process
from tests.detector_fixtures import TINY_CONFIG, DetectorInputs, write_inputs

CONFIG = json.dumps(TINY_CONFIG)
TIME_COLUMNS = ["images_per_s", "train_s", "time_s"]


def train_argv(data: DetectorInputs, out: Path, *extra: str) -> list[str]:
    return detector_fixtures.train_argv(data, out, CONFIG, *extra)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DetectorInputs:
    return write_inputs(tmp_path_factory.mktemp("detector"), n_frames=4)


@pytest.fixture(scope="module")
def trained(data: DetectorInputs) -> Path:
    """An uninterrupted training run through the CLI entry point."""
    out = data.frames.parent / "model"
    assert cli.main(train_argv(data, out)) == 0
    return out


def test_training_writes_best_model_checkpoint_metrics_and_plot(trained: Path) -> None:
    metrics = pd.read_csv(trained / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2]
    assert {
        "loss",
        "loss_classifier",
        "loss_box_reg",
        "loss_objectness",
        "loss_rpn_box_reg",
        "val_ap50",
        "lr",
        "time_s",
    } <= set(metrics.columns)
    assert metrics["loss"].notna().all() and metrics["val_ap50"].between(0, 1).all()
    best = torch.load(trained / "detector.pt", weights_only=True)
    assert best["epoch"] == metrics.loc[metrics["val_ap50"].idxmax(), "epoch"]
    assert best["val_ap50"] == pytest.approx(metrics["val_ap50"].max())
    state = torch.load(trained / "resume" / "state.pt", weights_only=True)
    assert {
        "model",
        "optimizer",
        "lr_scheduler",
        "scaler",
        "epoch",
        "history",
        "best",
        "run",
        "config",
    } <= set(state)
    assert state["epoch"] == 2 and state["config"]["model"]["arch"] == "resnet18_fpn_slim"
    assert state["best"]["epoch"] == best["epoch"]
    assert (trained / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(trained.rglob(".*.tmp")) and not (trained / "checkpoint.pt").exists()


def assert_same_training(got: Path, expected: Path) -> None:
    """Same weights (best and last epoch) and the same metrics, run times aside, bit for bit
    (the CSV holds each float's shortest round-trip text, so equal text is equal bits)."""
    for name in ("resume/state.pt", "detector.pt"):
        want = torch.load(expected / name, weights_only=True)["model"]
        have = torch.load(got / name, weights_only=True)["model"]
        assert want.keys() == have.keys()
        assert all(torch.equal(want[key], have[key]) for key in want), name
    pd.testing.assert_frame_equal(
        pd.read_csv(got / "metrics.csv", dtype=str).drop(columns=TIME_COLUMNS),
        pd.read_csv(expected / "metrics.csv", dtype=str).drop(columns=TIME_COLUMNS),
    )


def test_resume_after_kill_gives_the_same_weights(data: DetectorInputs, trained: Path) -> None:
    out = data.frames.parent / "killed"
    state = out / "resume" / "state.pt"
    command = [sys.executable, "-m", "dynbus"]
    proc = subprocess.Popen(command + train_argv(data, out), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.exists() and proc.poll() is None, "not killed in the last epoch"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert torch.load(state, weights_only=True)["epoch"] == 1

    resumed = subprocess.run(
        command + train_argv(data, out, "--resume"), capture_output=True, text=True, check=True
    )
    assert "resuming at epoch 2 of 2" in resumed.stderr
    assert_same_training(out, trained)


def test_time_limit_stops_at_an_epoch_end_and_the_same_command_continues(
    data: DetectorInputs, trained: Path, capsys: pytest.CaptureFixture
) -> None:
    out = data.frames.parent / "time_limited"
    # A limit shorter than any epoch: each run does one epoch, then stops.
    argv = train_argv(data, out, "--auto-resume", "--time-limit", "0.001")
    assert cli.main(argv) == 75
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "dynbus train: stopped: after epoch 1 of 2, as epoch 2 might not end within "
        f"--time-limit 0.001 min; the state is saved in {out / 'resume'}: the same command "
        "continues at epoch 2"
    )
    assert cli.main(argv) == 0
    assert "resuming at epoch 2 of 2" in capsys.readouterr().err
    assert_same_training(out, trained)


def test_resume_without_a_saved_state_says_so(
    data: DetectorInputs, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main(train_argv(data, tmp_path / "model", "--resume")) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"dynbus train: error: {tmp_path / 'model' / 'resume'}: no saved training state to "
        "resume (one is written at the end of every epoch); run without --resume to start "
        "training"
    )
    assert not (tmp_path / "model" / "detector.pt").exists()


def test_a_state_from_another_run_is_refused_or_discarded(
    data: DetectorInputs, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "model"
    (out / "resume").mkdir(parents=True)
    shutil.copy(trained / "resume" / "state.pt", out / "resume" / "state.pt")
    other = json.dumps({**TINY_CONFIG, "train": {**TINY_CONFIG["train"], "lr": 0.001}})
    argv = train_argv(data, out, "--resume")[1:]
    argv[argv.index("--config") + 1] = other
    with pytest.raises(
        InputFileError,
        match="belongs to another run "
        r"\(different train configuration\); run without --resume",
    ):
        train.main(train.get_args_parser().parse_args(argv))
    state = torch.load(out / "resume" / "state.pt", weights_only=True)
    changed = {**state["run"], "frames": "0" * 64}
    assert resume.find(out, changed, required=False) is None
    assert "it belongs to another run (different frames)" in capsys.readouterr().err
    assert not (out / "resume" / "state.pt").exists()


def test_inference_covers_every_frame_of_the_split(
    data: DetectorInputs, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "detections" / "test.csv"
    argv = [
        "infer",
        "--model",
        str(trained / "detector.pt"),
        "--frames",
        str(data.frames),
        "--splits",
        str(data.splits),
        "--split",
        "test",
        "--out",
        str(out),
        "--annotations",
        str(data.annotations),
        "--config",
        json.dumps({"infer": {"score_floor": 0.0}}),
        "--workers",
        "0",
    ]
    assert cli.main(argv) == 0
    table = pd.read_csv(out, dtype={"sequence_id": str})
    assert list(table.columns) == ["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]
    splits = pd.read_csv(data.splits)
    test_frames = {
        (s, f)
        for s, n in zip(
            splits.sequence_id[splits.split == "test"],
            splits.n_frames[splits.split == "test"],
            strict=True,
        )
        for f in range(n)
    }
    assert set(zip(table.sequence_id, table.frame, strict=True)) == test_frames
    assert (table.x2 > table.x1).all() and (table.y2 > table.y1).all()
    assert table.score.between(0, 1).all()
    assert table.groupby(["sequence_id", "frame"]).size().max() <= 100
    coco = json.loads(out.with_suffix(".coco.json").read_text())
    assert len(coco) == len(table)
    first = coco[0]
    row = table.iloc[0]
    assert first["bbox"] == pytest.approx(
        [row.x1, row.y1, row.x2 - row.x1, row.y2 - row.y1], abs=0.02
    )
    assert (first["sequence_id"], first["frame"], first["category_id"]) == (
        row.sequence_id,
        row.frame,
        1,
    )
    assert "frame-level AP@0.5 on 'test'" in capsys.readouterr().err


def _infer_val(data: DetectorInputs, trained: Path, out: Path, score_floor: float) -> pd.DataFrame:
    args = infer.get_args_parser().parse_args(
        [
            "--model",
            str(trained / "detector.pt"),
            "--frames",
            str(data.frames),
            "--splits",
            str(data.splits),
            "--split",
            "val",
            "--out",
            str(out),
            "--config",
            json.dumps({"infer": {"score_floor": score_floor}}),
            "--workers",
            "0",
        ]
    )
    infer.main(args)
    return pd.read_csv(out)


def test_score_floor_drops_low_boxes_and_keeps_the_rest(
    data: DetectorInputs, trained: Path, tmp_path: Path
) -> None:
    low = _infer_val(data, trained, tmp_path / "low.csv", 0.0)
    scores = np.sort(low.score.unique())
    assert len(scores) > 10
    floor = float((scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2)  # the median
    high = _infer_val(data, trained, tmp_path / "high.csv", floor)
    kept = low[low.score > floor].reset_index(drop=True)
    assert 0 < len(high) < len(low)
    pd.testing.assert_frame_equal(high, kept)


def _train_args(data: DetectorInputs, out: Path, **override: str) -> object:
    argv = train_argv(data, out)[1:]
    for flag, value in override.items():
        argv[argv.index(f"--{flag}") + 1] = value
    return train.get_args_parser().parse_args(argv)


def test_missing_frames_dir_is_a_clear_error(data: DetectorInputs, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="frames directory not found"):
        train.main(_train_args(data, tmp_path, frames=str(tmp_path / "nowhere")))


def test_missing_frame_png_names_the_file(tmp_path: Path) -> None:
    data = write_inputs(tmp_path, n_frames=2)
    missing = data.frames / "train00" / "000001.png"
    missing.unlink()
    with pytest.raises(InputFileError, match="000001.png: missing frame"):
        train.main(_train_args(data, tmp_path / "out"))


def test_empty_annotation_set_is_a_clear_error(data: DetectorInputs, tmp_path: Path) -> None:
    empty = tmp_path / "annotations.csv"
    empty.write_text("sequence_id,frame,lesion_id,x1,y1,x2,y2\n")
    with pytest.raises(InputFileError, match="annotation set is empty"):
        train.main(_train_args(data, tmp_path, annotations=str(empty)))


def test_split_without_positives_is_a_clear_error(tmp_path: Path) -> None:
    data = write_inputs(tmp_path, counts={"train": 2, "val": 0, "test": 1}, n_frames=2)
    with pytest.raises(InputFileError, match="no annotated mass in any frame of the 'val' split"):
        train.main(_train_args(data, tmp_path / "out"))


def test_unknown_split_is_a_one_line_cli_error(
    data: DetectorInputs, trained: Path, tmp_path: Path
) -> None:
    result = in_process.dynbus(
        "infer",
        "--model",
        str(trained / "detector.pt"),
        "--frames",
        str(data.frames),
        "--splits",
        str(data.splits),
        "--split",
        "holdout",
        "--out",
        str(tmp_path / "x.csv"),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"dynbus infer: error: {data.splits}: no sequence in split 'holdout' "
        "(splits present: ['test', 'train', 'val'])"
    )
    assert not (tmp_path / "x.csv").exists()


def test_time_limit_keeps_a_reserve_and_a_safety_margin() -> None:
    now = time.monotonic()
    assert TimeLimit(None, now - 10**6).fits(10**6)
    # 10 min: 9.5 usable; 1 min elapsed leaves room for an epoch of up to 8.5 / 1.2 min.
    assert TimeLimit(10, now - 60).fits(7.0 * 60)
    assert not TimeLimit(10, now - 60).fits(7.2 * 60)
    assert not TimeLimit(0, now).fits(0.0)
