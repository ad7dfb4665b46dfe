"""``dynbus infer``: run the detector on every frame of one split's sequences.

Writes ``--out`` (``sequence_id,frame,x1,y1,x2,y2,score``, every box scoring at least
``infer.score_floor``) and, beside it, ``{stem}.coco.json`` in the COCO results format.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from dynbus.config import add_config_argument, load
from dynbus.io.atomic import atomic_open, write_csv

from .checkpoint import load_detector
from .data import FrameDataset, FrameRef, collate, list_frames, read_annotations, split_sequences
from .determinism import apply_settings
from .engine import average_precision, predict
from .runtime import add_device_argument, add_workers_argument, pick_device

COLUMNS = ["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus infer``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="detector.pt written by dynbus train")
    parser.add_argument("--frames", required=True, help="frames folder (frames/{sequence}/*.png)")
    parser.add_argument("--splits", required=True, help="splits.csv")
    parser.add_argument("--split", required=True, help="which split to run on (e.g. val, test)")
    parser.add_argument("--out", required=True, help="detections CSV to write")
    parser.add_argument(
        "--annotations",
        default=None,
        help="optional annotations.csv: also print the frame-level AP@0.5",
    )
    add_device_argument(parser)
    add_workers_argument(parser)
    add_config_argument(parser)
    return parser


def coco_results(table: pd.DataFrame, image_ids: dict[tuple[str, int], int]) -> list[dict]:
    """COCO results entries (``bbox`` = x, y, w, h; category 1 = mass) for a detections table.

    ``image_id`` is the frame's position in the split's (sequence_id, frame) order; each entry
    also names its ``sequence_id`` and ``frame``.
    """
    return [
        {
            "image_id": image_ids[(row.sequence_id, row.frame)],
            "category_id": 1,
            "bbox": [row.x1, row.y1, round(row.x2 - row.x1, 2), round(row.y2 - row.y1, 2)],
            "score": row.score,
            "sequence_id": row.sequence_id,
            "frame": row.frame,
        }
        for row in table.itertuples(index=False)
    ]


def detect(
    model: torch.nn.Module,
    refs: list[FrameRef],
    device: torch.device,
    infer_cfg: dict[str, Any],
    workers: int,
    desc: str,
    boxes: dict[tuple[str, int], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, list[tuple[dict, dict]]]:
    """Run ``model`` on every frame of ``refs`` in batches of ``infer.batch_size``.

    Returns the detections table (``COLUMNS``; boxes rounded to 2 decimals, scores to 5, sorted
    by sequence, frame and descending score) and, when ``boxes`` (annotations) are given, the
    (prediction, target) pairs for the frame-level AP. ``dynbus infer`` and ``dynbus predict``
    both detect through here, so the same frames give the same bytes.
    """
    loader = DataLoader(
        FrameDataset(refs, boxes or {}),
        batch_size=infer_cfg["batch_size"],
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
    )
    rows, pairs = [], []
    for index, prediction, target in predict(model, loader, device, desc):
        ref = refs[index]
        for box, score in zip(
            prediction["boxes"].tolist(), prediction["scores"].tolist(), strict=True
        ):
            rows.append((ref.sequence_id, ref.frame, *(round(v, 2) for v in box), round(score, 5)))
        if boxes is not None:
            pairs.append((prediction, target))
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values(
        ["sequence_id", "frame", "score"], ascending=[True, True, False], kind="stable"
    )
    return table, pairs


def main(args: argparse.Namespace) -> None:
    """Detect on every frame of the split; write the CSV and the COCO results JSON."""
    config = load(args.config)
    infer_cfg = config["infer"]
    device = pick_device(args.device)
    apply_settings(config["reproducibility"], device)
    refs = list_frames(args.frames, split_sequences(args.splits, args.split))
    boxes = read_annotations(args.annotations) if args.annotations else None
    model, state = load_detector(args.model, infer_cfg["score_floor"])
    model.to(device)
    desc = f"infer {args.split}"
    table, pairs = detect(model, refs, device, infer_cfg, args.workers, desc, boxes)
    out = Path(args.out)
    image_ids = {(r.sequence_id, r.frame): i for i, r in enumerate(refs)}
    with atomic_open(out.with_suffix(".coco.json"), encoding="utf-8") as handle:
        json.dump(coco_results(table, image_ids), handle, separators=(",", ":"))
    write_csv(out, table)
    print(
        f"{len(table)} boxes on {len(refs)} frames of {args.split!r} "
        f"(model epoch {state.get('epoch')}, score >= {infer_cfg['score_floor']})",
        file=sys.stderr,
    )
    if args.annotations:
        print(
            f"frame-level AP@0.5 on {args.split!r}: {average_precision(pairs):.4f}", file=sys.stderr
        )
