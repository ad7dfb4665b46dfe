"""The field's video metrics on hand-built cases whose values are worked out by hand."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynbus.metrics.fp_chains import fp_chain_counts
from dynbus.metrics.video_metrics import metrics_table, video_metrics
from dynbus.metrics.videos import load_videos
from dynbus.protocol.boxes import iou_matrix

DET = ["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]
ANN = ["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
MASS = (10, 10, 30, 30)
FAR = (100, 100, 120, 120)


def write_study(
    folder: Path,
    dets: list,
    anns: list,
    sequences: dict[str, int],
    frame_time_ms: float | None = 100.0,
) -> tuple[Path, ...]:
    """CSV inputs (one patient per sequence) and meta.json frame times."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(dets, columns=DET).to_csv(folder / "det.csv", index=False)
    pd.DataFrame(anns, columns=ANN).to_csv(folder / "ann.csv", index=False)
    lesions = {s: len({a[2] for a in anns if a[0] == s}) for s in sequences}
    pd.DataFrame(
        [(s, f"P{s}", "test", n, lesions[s]) for s, n in sequences.items()],
        columns=["sequence_id", "patient_id", "split", "n_frames", "n_lesions"],
    ).to_csv(folder / "man.csv", index=False)
    for s in sequences:
        (folder / "frames" / s).mkdir(parents=True)
        meta = {"frame_time_ms": frame_time_ms}
        (folder / "frames" / s / "meta.json").write_text(json.dumps(meta))
    return folder / "det.csv", folder / "ann.csv", folder / "man.csv", folder / "frames"


def metrics_of(paths: tuple[Path, ...], n_bootstrap: int = 50) -> pd.DataFrame:
    videos, _ = load_videos(*paths[:3], None, paths[3], "annotated", 1)
    table = video_metrics(videos, n_bootstrap, 0, 1000)
    return table.set_index(["metric", table["recall"].fillna(0)])


def test_ap_precision_and_threshold_at_recall_by_hand(tmp_path: Path) -> None:
    # two masses (frames 0, 1); in descending score: TP 0.9, FP 0.8 (far box), TP 0.7
    dets = [("A", 0, *MASS, 0.9), ("A", 0, *FAR, 0.8), ("A", 1, *MASS, 0.7)]
    anns = [("A", 0, "m", *MASS), ("A", 1, "m", *MASS)]
    m = metrics_of(write_study(tmp_path, dets, anns, {"A": 2}))
    # recall 0.5, 0.5, 1; precision 1, 0.5, 2/3; envelope 1, 2/3, 2/3
    assert m.loc[("ap50", 0), "estimate"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m.loc[("ap75", 0), "estimate"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert m.loc[("r16", 0), "estimate"] == 1.0
    # np.interp(0.7, [.5, .5, 1], ...): 40 % of the way from the 2nd to the 3rd point
    assert m.loc[("precision", 0.7), "estimate"] == pytest.approx(0.5 + 0.4 * (2 / 3 - 0.5))
    assert m.loc[("precision", 0.7), "threshold"] == pytest.approx(0.8 - 0.4 * 0.1)


def test_a_mass_box_taken_twice_is_a_false_positive_and_ap_shrinks_with_iou(tmp_path: Path) -> None:
    shifted = (14, 10, 34, 30)  # IoU with MASS = 16 * 20 / (2 * 400 - 320) = 2/3
    dets = [("A", 0, *MASS, 0.9), ("A", 0, *MASS, 0.8), ("A", 1, *shifted, 0.7)]
    anns = [("A", 0, "m", *MASS), ("A", 1, "m", *MASS)]
    m = metrics_of(write_study(tmp_path, dets, anns, {"A": 2}))
    assert m.loc[("ap50", 0), "estimate"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert m.loc[("ap75", 0), "estimate"] == pytest.approx(0.5)  # 2/3 < 0.75: a miss
    # mAP@[.5:.95]: thresholds 0.5, 0.55, 0.6, 0.65 see both masses, the other six one
    assert m.loc[("map", 0), "estimate"] == pytest.approx((4 * (0.5 + 1 / 3) + 6 * 0.5) / 10)


def test_recall_at_16_keeps_each_frames_16_best_boxes(tmp_path: Path) -> None:
    decoys = [("A", 0, 200 + 20 * k, 0, 210 + 20 * k, 10, 0.9) for k in range(16)]
    dets = [*decoys, ("A", 0, *MASS, 0.5), ("A", 1, *MASS, 0.5)]
    anns = [("A", 0, "m", *MASS), ("A", 1, "m", *MASS)]
    m = metrics_of(write_study(tmp_path, dets, anns, {"A": 2}))
    assert m.loc[("r16", 0), "estimate"] == 0.5


def test_fp_chains_per_minute_and_unreached_recall(tmp_path: Path) -> None:
    # A: the mass found in frames 0-2 (a true chain), a far box in frames 0-2 (one FP chain)
    # B: no mass, one far box in frame 0 (an FP chain); 2 x 10 frames of 100 ms = 1/30 min
    dets = [("A", f, *MASS, 0.9) for f in range(3)] + [("A", f, *FAR, 0.6) for f in range(3)]
    dets += [("B", 0, *FAR, 0.7)]
    anns = [("A", f, "m", *MASS) for f in range(10)]
    m = metrics_of(write_study(tmp_path, dets, anns, {"A": 10, "B": 10}))
    # recall reaches 0.3 only: every FP@R of 0.7-0.9 is undefined
    assert m.loc[("fp_per_minute", 0.7), ["estimate", "low", "high"]].isna().all()
    dets = [("A", f, *MASS, 0.9 - f / 100) for f in range(10)] + dets[3:]
    m = metrics_of(write_study(tmp_path / "b", dets, anns, {"A": 10, "B": 10}))
    # recall 0.7 at the 7th mass box (0.84): boxes > 0.84 hold the 6-box true chain only
    assert m.loc[("fp_per_minute", 0.7), "threshold"] == pytest.approx(0.84)
    assert m.loc[("fp_per_minute", 0.7), "estimate"] == 0.0
    # recall 0.9 at 0.82: still no FP box above it
    assert m.loc[("fp_per_minute", 0.9), "estimate"] == 0.0
    dets = [(s, f, *b, 0.95) for s, f, *b, _ in dets[10:]] + dets[:10]
    m = metrics_of(write_study(tmp_path / "c", dets, anns, {"A": 10, "B": 10}))
    # the far boxes now score 0.95: 2 FP chains in 1/30 minute
    assert m.loc[("fp_per_minute", 0.7), "estimate"] == pytest.approx(60.0)


def test_ultradet_literal_map_and_30_fps_fp_per_minute_beside_the_corrected_ones(
    tmp_path: Path,
) -> None:
    # A: the mass in frames 0-9 (exact boxes, 0.9 down to 0.81) and a far box in frames 0-2;
    # B: a far box in frame 0. The far boxes score 0.95: 4 FP boxes (2 FP chains) rank first.
    dets = [("A", f, *MASS, 0.9 - f / 100) for f in range(10)]
    dets += [("A", f, *FAR, 0.95) for f in range(3)] + [("B", 0, *FAR, 0.95)]
    anns = [("A", f, "m", *MASS) for f in range(10)]
    paths = write_study(tmp_path, dets, anns, {"A": 10, "B": 10}, frame_time_ms=100.0)
    m = metrics_of(paths)
    # every IoU: precision rises to 10/14 at recall 1, so each of the 10 APs is 5/7
    assert m.loc[("map", 0), "estimate"] == pytest.approx(5 / 7)
    assert m.loc[("map_ultradet", 0), "estimate"] == pytest.approx(10 * (5 / 7) / 9)
    for bound in ("low", "high"):
        literal, corrected = m.loc[("map_ultradet", 0), bound], m.loc[("map", 0), bound]
        assert literal == pytest.approx(corrected * 10 / 9)
    # 2 FP chains in 20 frames: 20 x 100 ms = 1/30 minute; at 30 fps 20 frames are 1/90 minute
    assert m.loc[("fp_per_minute", 0.7), "estimate"] == pytest.approx(60.0)
    assert m.loc[("fp_per_minute_30fps", 0.7), "estimate"] == pytest.approx(180.0)
    videos, _ = load_videos(*paths[:3], None, paths[3], "annotated", 1)
    names = metrics_table(video_metrics(videos, 10, 0, 1000))["Metric"].tolist()
    mean = names.index("mAP@[.5:.95] (mean of the 10 APs)")
    assert names[mean + 1] == "mAP@[.5:.95], UltraDet literal (sum of the 10 APs / 9)"
    real = names.index("FP/min@R0.7 (cine frame rate)")
    assert names[real + 1] == "FP/min@R0.7, UltraDet literal (30 fps)"


def test_a_chain_is_false_when_at_most_90_percent_of_its_boxes_cover_a_mass() -> None:
    boxes = np.array([MASS] * 10, dtype=float)
    frames = np.arange(10)
    scores = np.full(10, 0.9)
    nine = np.r_[np.ones(9, bool), False]
    assert fp_chain_counts(boxes, frames, scores, nine, np.array([0.0]))[0] == 1
    assert fp_chain_counts(boxes, frames, scores, np.ones(10, bool), np.array([0.0]))[0] == 0
    # a gap of 6 frames breaks the chain (history of 5): two chains, both false
    frames = np.r_[np.arange(5), np.arange(11, 16)]
    assert fp_chain_counts(boxes, frames, scores, np.zeros(10, bool), np.array([0.0]))[0] == 2
    # boxes scoring exactly the threshold are left out (scores > t)
    assert fp_chain_counts(boxes, frames, scores, np.zeros(10, bool), np.array([0.9]))[0] == 0


def ultradet_fp_chains(boxes, frames, scores, covered, t):
    """Literal port of UltraDet's ``calculate_video_level_fp`` for one video and threshold."""
    keep = scores > t
    prev = {}
    hist: deque = deque(maxlen=5)
    for f in range(int(frames.max()) + 1):
        nodes = [k for k in np.flatnonzero(keep & (frames == f))]
        flat = [n for h in hist for n in h]
        if flat and nodes:
            ious = iou_matrix(boxes[nodes], boxes[flat])
            for row, k in enumerate(nodes):
                if (ious[row] > 0.5).any():
                    prev[k] = flat[int(ious[row].argmax())]
        hist.append(nodes)
    chains: dict = {}
    for k in np.flatnonzero(keep):
        root = k
        while root in prev:
            root = prev[root]
        chains.setdefault(root, []).append(covered[k])
    return sum(1 for c in chains.values() if not sum(c) / len(c) > 0.9)


def test_fp_chain_counts_agree_with_a_literal_port_of_ultradet() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(1, 60))
        frames = np.sort(rng.integers(0, 12, n))
        centre = rng.choice([20.0, 40.0, 60.0], (n, 2)) + rng.normal(0, 3, (n, 2))
        half = rng.uniform(8, 12, (n, 1))
        boxes = np.hstack([centre - half, centre + half])
        scores = np.round(rng.uniform(0, 1, n), 2)
        order = np.lexsort((-scores, frames))
        boxes, frames, scores = boxes[order], frames[order], scores[order]
        covered = rng.uniform(size=n) < 0.5
        levels = np.array([0.8, 0.5, 0.3, 0.0, 0.65])
        expected = [ultradet_fp_chains(boxes, frames, scores, covered, t) for t in levels]
        assert fp_chain_counts(boxes, frames, scores, covered, levels).tolist() == expected


def test_a_bad_frame_time_names_the_file(tmp_path: Path) -> None:
    paths = write_study(
        tmp_path, [("A", 0, *MASS, 0.9)], [("A", 0, "m", *MASS)], {"A": 1}, frame_time_ms=-5
    )
    with pytest.raises(Exception, match="meta.json: frame_time_ms must be a positive number"):
        load_videos(*paths[:3], None, paths[3], "annotated", 1)
