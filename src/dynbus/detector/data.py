"""Frames, boxes and splits for the detector: tables read once, PNGs decoded in DataLoader workers.

Reads the stage contracts of docs/CONVENTIONS.md: ``frames/{sequence_id}/{frame:06d}.png`` +
``meta.json``, ``annotations.csv`` (``sequence_id,frame,lesion_id,x1,y1,x2,y2``) and
``splits.csv`` (``sequence_id,patient_id,split,...``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from dynbus.errors import InputFileError
from dynbus.io.csv_input import read_csv_checked

BOX_COLUMNS = ["x1", "y1", "x2", "y2"]
ANNOTATION_COLUMNS = ["sequence_id", "frame", *BOX_COLUMNS]
SPLIT_COLUMNS = ["sequence_id", "split"]


@dataclass(frozen=True)
class FrameRef:
    """One frame of one sequence and its PNG file."""

    sequence_id: str
    frame: int
    path: Path


def _read_csv(path: str | Path, columns: list[str]) -> pd.DataFrame:
    return read_csv_checked(path, columns, dtype={"sequence_id": str, "lesion_id": str})


def read_annotations(path: str | Path) -> dict[tuple[str, int], np.ndarray]:
    """Read the annotation table once: ``(sequence_id, frame) -> float32 boxes (n, 4)``."""
    table = _read_csv(path, ANNOTATION_COLUMNS)
    if table.empty:
        raise InputFileError(path, "no annotated boxes (the annotation set is empty)")
    boxes = table[BOX_COLUMNS].to_numpy(dtype=np.float32)
    bad = (
        ~np.isfinite(boxes).all(axis=1)
        | (boxes[:, 2] <= boxes[:, 0])
        | (boxes[:, 3] <= boxes[:, 1])
    )
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputFileError(path, f"row {row + 2}: needs x1 < x2 and y1 < y2, got {boxes[row]}")
    keys = zip(table["sequence_id"], table["frame"].astype(int), strict=True)
    grouped: dict[tuple[str, int], list[np.ndarray]] = {}
    for key, box in zip(keys, boxes, strict=True):
        grouped.setdefault(key, []).append(box)
    return {key: np.stack(rows) for key, rows in grouped.items()}


def split_sequences(path: str | Path, split: str) -> list[str]:
    """Sequence ids of ``split`` in ``splits.csv``, sorted; error if the split is absent."""
    table = _read_csv(path, SPLIT_COLUMNS)
    known = sorted(set(table["split"].astype(str)))
    if split not in known:
        raise InputFileError(path, f"no sequence in split {split!r} (splits present: {known})")
    return sorted(table.loc[table["split"] == split, "sequence_id"])


def list_frames(frames_dir: str | Path, sequence_ids: list[str], stride: int = 1) -> list[FrameRef]:
    """Every ``stride``-th frame of each sequence, from its ``meta.json``; checks the PNGs exist."""
    root = Path(frames_dir)
    if not root.is_dir():
        raise InputFileError(root, "frames directory not found")
    refs = []
    for sequence_id in sequence_ids:
        meta_path = root / sequence_id / "meta.json"
        try:
            n_frames = int(json.loads(meta_path.read_text(encoding="utf-8"))["n_frames"])
        except FileNotFoundError as error:
            raise InputFileError(meta_path, "missing (sequence not extracted)") from error
        except (ValueError, KeyError, TypeError) as error:
            raise InputFileError(meta_path, f"no valid n_frames ({error})") from error
        for frame in range(0, n_frames, stride):
            path = root / sequence_id / f"{frame:06d}.png"
            if not path.is_file():
                raise InputFileError(path, f"missing frame (meta.json says {n_frames} frames)")
            refs.append(FrameRef(sequence_id, frame, path))
    return refs


def read_gray(path: Path) -> torch.Tensor:
    """Decode an 8-bit gray PNG to a float tensor (1, H, W) in [0, 1]."""
    try:
        with Image.open(path) as image:
            pixels = np.array(image.convert("L"))
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"cannot decode PNG ({error})") from error
    return torch.from_numpy(pixels).unsqueeze(0).float().div_(255.0)


def augment(
    image: torch.Tensor, boxes: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ultrasound-safe augmentation, a pure function of ``seed``: horizontal flip, gain, contrast.

    No blur or colour jitter (speckle and gray levels carry the signal); scale jitter is the
    model's multi-scale resize.
    """
    generator = torch.Generator().manual_seed(seed)
    flip, gain, contrast = torch.rand(3, generator=generator).tolist()
    if flip < 0.5:
        image = image.flip(-1)
        width = image.shape[-1]
        boxes = torch.stack(
            [width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1
        )
    gain = 0.8 + 0.45 * gain  # 0.8 .. 1.25
    contrast = 0.8 + 0.45 * contrast
    mean = image.mean()
    image = ((image - mean) * contrast + mean).mul_(gain).clamp_(0.0, 1.0)
    return image, boxes


class FrameDataset(Dataset):
    """Frames with their mass boxes; items are ``(image 3xHxW, target, index)``.

    An item key is an index, or ``(index, seed)`` to augment with that seed (see EpochSampler).
    """

    def __init__(self, refs: list[FrameRef], boxes: dict[tuple[str, int], np.ndarray]) -> None:
        self.refs = refs
        empty = np.zeros((0, 4), dtype=np.float32)
        self.boxes = [boxes.get((r.sequence_id, r.frame), empty) for r in refs]

    def __len__(self) -> int:
        return len(self.refs)

    def has_mass(self, index: int) -> bool:
        """Whether frame ``index`` has at least one annotated box."""
        return len(self.boxes[index]) > 0

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, dict, int]:
        index, seed = key if isinstance(key, tuple) else (key, None)
        image = read_gray(self.refs[index].path)
        boxes = torch.from_numpy(self.boxes[index])
        if seed is not None:
            image, boxes = augment(image, boxes, seed)
        labels = torch.ones(len(boxes), dtype=torch.int64)
        return image.expand(3, -1, -1), {"boxes": boxes, "labels": labels}, index


def collate(batch: list) -> tuple:
    """Keep images and targets as lists (Faster R-CNN takes variable-size inputs)."""
    return tuple(zip(*batch, strict=True))


class EpochSampler(Sampler):
    """Per epoch: one random frame of every ``stride`` consecutive frames with a mass, and
    ``negative_ratio`` times as many such windows of frames without one, shuffled.

    Over the epochs every training frame is seen at the cost of every ``stride``-th one. The
    order, the frames and negatives drawn and each item's augmentation seed depend only on
    ``(seed, epoch)``, so a resumed run replays exactly the epochs an uninterrupted run would.
    """

    def __init__(
        self, dataset: FrameDataset, negative_ratio: float, seed: int, stride: int = 1
    ) -> None:
        windows: dict[tuple[str, int, bool], list[int]] = {}
        for index, ref in enumerate(dataset.refs):
            key = (ref.sequence_id, ref.frame // stride, dataset.has_mass(index))
            windows.setdefault(key, []).append(index)
        self.positives = [frames for key, frames in windows.items() if key[2]]
        self.negatives = [frames for key, frames in windows.items() if not key[2]]
        self.n_negatives = min(len(self.negatives), round(negative_ratio * len(self.positives)))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order is produced next."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.positives) + self.n_negatives

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        picked = torch.randperm(len(self.negatives), generator=generator)[: self.n_negatives]
        windows = self.positives + [self.negatives[i] for i in picked.tolist()]
        order = torch.randperm(len(windows), generator=generator).tolist()
        draws = torch.randint(0, 2**62, (len(order), 2), generator=generator).tolist()
        items = [
            (windows[w][frame % len(windows[w])], seed)
            for w, (frame, seed) in zip(order, draws, strict=True)
        ]
        return iter(items)
