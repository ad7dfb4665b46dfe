"""The evaluated sequences as videos: detections plus every annotated box and the frame rate.

The field's video metrics (``video_metrics``) need, beyond ``SequenceData``, each frame's
ground-truth boxes (frame AP counts every annotated box; a false-positive chain is judged by
box centres inside them), the number of frames and the frame time (FPs per minute).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dynbus.errors import InputFileError
from dynbus.protocol.inputs import (
    ANNOTATION_COLUMNS,
    BOX,
    MANIFEST_COLUMNS,
    load_sequences,
    read_table,
)
from dynbus.protocol.sweep import SequenceData

DEFAULT_FPS = 30.0  # UltraDet's convention (1,800 frames per minute) where a cine has no frame time


@dataclass
class Video:
    """One evaluated sequence with its ground truth per frame and its duration."""

    data: SequenceData
    gt_frames: np.ndarray  # (G,) frame of each annotated box
    gt_boxes: np.ndarray  # (G, 4)
    gt_lesions: np.ndarray  # (G,) index into data.lesion_ids of each annotated box
    n_frames: int
    frame_time_ms: float

    @property
    def minutes(self) -> float:
        """Duration of the cine in minutes."""
        return self.n_frames * self.frame_time_ms / 60_000

    def centre_covered(self) -> np.ndarray:
        """Per detection: its centre lies inside (borders included) a ground-truth box of its
        frame (UltraDet's ``check_center_cover``)."""
        boxes, gt = self.data.boxes, self.gt_boxes
        cx = ((boxes[:, 0] + boxes[:, 2]) / 2)[:, None]
        cy = ((boxes[:, 1] + boxes[:, 3]) / 2)[:, None]
        inside = (
            (gt[:, 0] <= cx)
            & (cx <= gt[:, 2])
            & (gt[:, 1] <= cy)
            & (cy <= gt[:, 3])
            & (self.data.frames[:, None] == self.gt_frames[None, :])
        )
        return inside.any(axis=1)

    def rescored(self, keep: np.ndarray, scores: np.ndarray) -> Video:
        """The same video with only the detections ``keep`` (a mask), rescored to ``scores``
        (one per kept detection), re-sorted by descending score."""
        data = self.data
        order = np.argsort(-scores, kind="stable")
        index = np.flatnonzero(keep)[order]
        return replace(
            self,
            data=replace(
                data,
                boxes=data.boxes[index],
                frames=data.frames[index],
                scores=scores[order],
                overlap=data.overlap[index],
            ),
        )


def add_video_arguments(parser: argparse.ArgumentParser, frames_required: bool = False) -> None:
    """The inputs of the video stages (``video-metrics``, ``ablation``, ``overlays``): one
    split's detections, the annotations, the split manifest and the frames folder (frame
    times)."""
    parser.add_argument("--detections", required=True, help="detections CSV of one split")
    parser.add_argument("--annotations", required=True, help="results/annotations.csv")
    parser.add_argument("--manifest", required=True, help="results/splits.csv")
    parser.add_argument("--split", default=None, help="evaluate only this split of the manifest")
    parser.add_argument(
        "--frames",
        default=None,
        required=frames_required,
        help="frames folder ({seq}/meta.json gives the frame time; else 30 fps)",
    )


def videos_from_args(args: argparse.Namespace, config: dict[str, Any]) -> tuple[list[Video], int]:
    """``load_videos`` on the inputs of ``add_video_arguments`` and the single-frame config."""
    pick = config["single_frame"]
    return load_videos(
        args.detections,
        args.annotations,
        args.manifest,
        args.split,
        args.frames,
        pick["pick"],
        pick["seed"],
    )


def load_videos(
    detections: str | Path,
    annotations: str | Path,
    manifest: str | Path,
    split: str | None,
    frames: str | Path | None,
    pick: str,
    seed: int,
) -> tuple[list[Video], int]:
    """The evaluated sequences as videos, and how many had no frame time (given 30 fps).

    The frame time comes from ``{frames}/{sequence_id}/meta.json`` (``frame_time_ms``, written
    by ``dynbus frames``); with ``frames`` None every sequence gets 30 fps.
    """
    seqs = load_sequences(detections, annotations, manifest, split, pick, seed)
    table = read_table(manifest, MANIFEST_COLUMNS, ["n_frames", "n_lesions"])
    n_frames = dict(zip(table["sequence_id"], table["n_frames"].astype(int), strict=True))
    ann = read_table(annotations, ANNOTATION_COLUMNS, ["frame", *BOX])
    by_seq = dict(tuple(ann.groupby("sequence_id", sort=False)))
    videos, assumed = [], 0
    for seq in seqs:
        rows = by_seq.get(seq.sequence_id)
        if rows is not None:
            rows = rows[rows["frame"] < n_frames[seq.sequence_id]]
        lesion_index = {lesion: k for k, lesion in enumerate(seq.lesion_ids)}
        frame_time = _frame_time(frames, seq.sequence_id)
        assumed += frame_time is None
        videos.append(
            Video(
                data=seq,
                gt_frames=np.zeros(0, np.int64)
                if rows is None
                else rows["frame"].to_numpy(np.int64),
                gt_boxes=np.zeros((0, 4)) if rows is None else rows[BOX].to_numpy(float),
                gt_lesions=np.zeros(0, np.int64)
                if rows is None
                else rows["lesion_id"].map(lesion_index).to_numpy(np.int64),
                n_frames=n_frames[seq.sequence_id],
                frame_time_ms=1000 / DEFAULT_FPS if frame_time is None else frame_time,
            )
        )
    return videos, assumed


def _frame_time(frames: str | Path | None, sequence_id: str) -> float | None:
    if frames is None:
        return None
    path = Path(frames) / sequence_id / "meta.json"
    if not path.is_file():
        raise InputFileError(path, "file not found (run dynbus frames for this sequence)")
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("frame_time_ms")
    except (json.JSONDecodeError, AttributeError) as error:
        raise InputFileError(path, f"not a JSON object ({error})") from error
    if value is None:
        return None
    if not isinstance(value, int | float) or not value > 0:
        raise InputFileError(path, f"frame_time_ms must be a positive number, not {value!r}")
    return float(value)
