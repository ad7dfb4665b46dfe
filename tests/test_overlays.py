"""``dynbus overlays``: overlay videos, their index and the worst-case page on a hand-built study.

Three test sequences of gray frames (63 x 48 pixels, odd on purpose) with known boxes, at a
hand-written operating threshold of 0.5 (hit IoU 0.2):
S01 a lesion detected in every frame (one fused group) plus a one-frame false positive (0.8);
S02 a lesion detected only below the threshold (a false negative in all 3 frames);
S03 no lesion, a false positive fused over two frames (0.95).
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dynbus.cli import main as dynbus
from dynbus.metrics.videos import load_videos
from dynbus.protocol.fusion import FusionSettings
from dynbus.protocol.sweep import hits_at
from dynbus.reporting import video_writer
from dynbus.reporting.overlays import outcome

WIDTH, HEIGHT, GRAY = 63, 48, 128
LESION_S01 = (10, 10, 30, 30)
FP_S01 = (40, 28, 56, 44)  # frame 2 only
FP_S03 = (20, 20, 40, 40)  # frames 0 and 1
FRAMES = {"S01": 4, "S02": 3, "S03": 2, "S04": 2}


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    dets = [("S01", f, *LESION_S01, 0.9 - 0.01 * f) for f in range(4)]
    dets += [("S01", 2, *FP_S01, 0.8), ("S01", 1, 45, 2, 60, 8, 0.3)]  # the second below t
    dets += [("S02", f, 5, 5, 20, 20, 0.1) for f in range(3)]
    dets += [("S03", f, *FP_S03, 0.95 - 0.05 * f) for f in range(2)]
    dets += [("S04", 0, 1, 1, 9, 9, 0.99)]  # a validation sequence: not drawn
    anns = [("S01", f, "L1", *LESION_S01) for f in range(4)]
    anns += [("S02", f, "L7", 5, 5, 20, 20) for f in range(3)]
    pd.DataFrame(dets, columns=["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]).to_csv(
        tmp_path / "detections.csv", index=False
    )
    pd.DataFrame(
        anns, columns=["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
    ).to_csv(tmp_path / "annotations.csv", index=False)
    rows = [
        (seq, f"P{seq}", "val" if seq == "S04" else "test", n, int(seq in {"S01", "S02"}))
        for seq, n in FRAMES.items()
    ]
    pd.DataFrame(
        rows, columns=["sequence_id", "patient_id", "split", "n_frames", "n_lesions"]
    ).to_csv(tmp_path / "splits.csv", index=False)
    pd.DataFrame(
        [(0.2, 0.2, "single", 0.7), (0.2, 0.2, "multi", 0.5)],
        columns=["iou", "fp_rate", "method", "threshold"],
    ).to_csv(tmp_path / "counts.csv", index=False)
    for seq, n in FRAMES.items():
        folder = tmp_path / "frames" / seq
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(json.dumps({"frame_time_ms": 40.0}))
        for frame in range(n):
            Image.new("L", (WIDTH, HEIGHT), GRAY).save(folder / f"{frame:06d}.png")
    return tmp_path


def overlays(study: Path, out: Path, *extra: str) -> int:
    return dynbus(
        [
            "overlays",
            "--counts",
            str(study / "counts.csv"),
            "--detections",
            str(study / "detections.csv"),
            "--annotations",
            str(study / "annotations.csv"),
            "--manifest",
            str(study / "splits.csv"),
            "--split",
            "test",
            "--frames",
            str(study / "frames"),
            "--out",
            str(out),
            *extra,
        ]
    )


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]


def reddish(pixel: np.ndarray) -> bool:
    red, green, blue = pixel
    return red > green + 40 and red > blue + 40


def test_videos_show_boxes_and_index_lists_errors(study: Path, tmp_path: Path) -> None:
    assert overlays(study, tmp_path / "a") == 0
    index = pd.read_csv(tmp_path / "a" / "index.csv", dtype={"missed_lesions": str})
    assert list(index["sequence_id"]) == ["S01", "S02", "S03"]  # the test split only
    rows = index.set_index("sequence_id")
    assert rows[["tp", "fn", "fp", "duplicates"]].to_dict("index") == {
        "S01": {"tp": 1, "fn": 0, "fp": 1, "duplicates": 0},
        "S02": {"tp": 0, "fn": 1, "fp": 0, "duplicates": 0},
        "S03": {"tp": 0, "fn": 0, "fp": 1, "duplicates": 0},
    }
    assert rows.loc["S01", "max_fp_score"] == pytest.approx(0.8)
    assert rows.loc["S03", "max_fp_score"] == pytest.approx(0.95)
    assert rows.loc["S02", "missed_lesions"] == "L7"
    assert rows.loc["S02", "missed_frames"] == 3
    assert rows["worst_fp_rank"].dropna().to_dict() == {"S03": 1, "S01": 2}
    assert rows["worst_fn_rank"].dropna().to_dict() == {"S02": 1}
    assert (rows["fps"] == 25).all() and (rows["threshold"] == 0.5).all()

    frames = decoded(tmp_path / "a" / rows.loc["S01", "video"])
    assert len(frames) == FRAMES["S01"]
    assert frames[0].shape == (HEIGHT + 28, WIDTH + 1, 3)  # banner below, even width
    x1, y1, _, y2 = FP_S01
    edge = frames[2][(y1 + y2) // 2, x1]
    assert reddish(edge)  # the false positive, drawn in its frame only
    assert not reddish(frames[1][(y1 + y2) // 2, x1])
    assert np.allclose(frames[1][5, 5], GRAY, atol=12)  # untouched pixels keep the frame
    lx1, ly1, _, ly2 = LESION_S01
    green = frames[0][(ly1 + ly2) // 2, lx1]
    assert green[1] > green[0] + 40  # the lesion's true-positive group, green

    page = (tmp_path / "a" / "worst.html").read_text(encoding="utf-8")
    assert page.count("data:video/mp4;base64,") == 3  # S03 and S01 (FP), S02 (FN)
    assert page.index("1. S03") < page.index("2. S01")

    assert overlays(study, tmp_path / "b") == 0  # same inputs, same bytes
    for name in ("index.csv", "videos/S01.mp4", "worst.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_gif_output_has_every_frame_and_the_boxes(study: Path, tmp_path: Path) -> None:
    assert overlays(study, tmp_path, "--format", "gif") == 0
    index = pd.read_csv(tmp_path / "index.csv")
    assert index["video"].str.endswith(".gif").all()
    with Image.open(tmp_path / "videos" / "S02.gif") as gif:
        assert gif.n_frames == FRAMES["S02"]
        assert gif.size == (WIDTH + 1, HEIGHT + 28)
        gif.seek(1)
        frame = np.asarray(gif.convert("RGB")).astype(int)
    yellow, gray = (0xFF, 0xDD, 0x00), (GRAY, GRAY, GRAY)
    assert tuple(frame[5, 6]) == yellow  # the missed lesion's top edge (5, 5)-(20, 5): dashed
    assert tuple(frame[5, 11]) == gray
    assert tuple(frame[12, 12]) == gray
    assert "data:image/gif;base64," in (tmp_path / "worst.html").read_text(encoding="utf-8")


def test_auto_falls_back_to_gif_without_an_mp4_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    assert video_writer.mp4_codec(("no-such-codec",)) is None
    assert video_writer.video_format("auto") == "mp4"
    monkeypatch.setattr(video_writer, "mp4_codec", lambda: None)
    assert video_writer.video_format("auto") == "gif"


def test_outcome_agrees_with_the_evaluation(study: Path) -> None:
    for order in ("threshold_then_group", "group_then_threshold"):
        fusion = FusionSettings(order=order)
        videos, _ = load_videos(
            study / "detections.csv",
            study / "annotations.csv",
            study / "splits.csv",
            "test",
            study / "frames",
            "annotated",
            0,
        )
        for video in videos:
            for threshold in (0.05, 0.5, 0.85):
                result = outcome(video, fusion, threshold, 0.2)
                hit, fp = hits_at(video.data, "multi", fusion, threshold, 0.2)
                assert result.count("FP") == fp
                assert sorted(result.missed) == list(np.flatnonzero(~hit))


def test_missing_frames_are_one_line_errors_naming_the_file(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (study / "frames" / "S02" / "000001.png").unlink()
    assert overlays(study, tmp_path / "out") == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert str(study / "frames" / "S02" / "000001.png") in error
    assert not (tmp_path / "out" / "videos").exists()  # nothing half-written

    for path in sorted((study / "frames" / "S02").iterdir()):
        path.unlink()
    (study / "frames" / "S02").rmdir()
    assert overlays(study, tmp_path / "out") == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and str(study / "frames" / "S02") in error
