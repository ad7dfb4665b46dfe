"""Does the OCR's outcome depend on how ONNX Runtime computes? A probe to diff across settings.

Simulates a small study, then for each sequence's first frame reads the banner (the lines and
their scores) and runs the burned-in text check on one frame with the kept area = whole frame
and = the ultrasound region (the boxes found: the decision). Prints it all as JSON with a
SHA-256 of the lines, of the scores to 3 decimals and of the decisions, so that runs under
other settings can be compared: ``--threads 2``, ``--graph-optimization disable`` (ONNX
Runtime's graph fusions off), or the same command under an emulated CPU of fewer instruction
sets (``qemu-x86_64 -cpu ...``: ONNX Runtime picks its kernels by the CPU's features).

    .venv/bin/python benchmarks/ocr_dispatch.py [--patients 6] [--threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
from simulated import simulate

from dynbus.deid import ocr
from dynbus.deid.burned_text import check_burned_text
from dynbus.deid.pixels import decoded_frames, region_mask, ultrasound_regions


def digest(value: object) -> str:
    """Short SHA-256 of ``value`` as JSON."""
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()[:16]


def main() -> None:
    """Simulate, read, check; print lines, decisions and their digests as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--graph-optimization", choices=["all", "disable"], default="all")
    args = parser.parse_args()
    ocr.SETTINGS.update(intra_op_num_threads=args.threads)
    if args.graph_optimization == "disable":  # rapidocr-onnxruntime hard-codes ORT_ENABLE_ALL
        from onnxruntime import GraphOptimizationLevel
        from rapidocr_onnxruntime.utils import infer_engine

        disabled = GraphOptimizationLevel.ORT_DISABLE_ALL
        infer_engine.GraphOptimizationLevel = SimpleNamespace(ORT_ENABLE_ALL=disabled)
    settings = {"frames": [4, 5], "rows": 256, "columns": 320}
    lines, decisions = [], []
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        for path in simulate(raw, args.seed, args.patients, settings):
            ds = pydicom.dcmread(path)
            frame = decoded_frames(ds)[:1]
            gray = frame.max(axis=-1) if frame.ndim == 4 else frame
            top = int(ds.SequenceOfUltrasoundRegions[0].RegionLocationMinY0)
            banner = np.repeat(gray[0, :top, :, None], 3, axis=-1)
            found, _ = ocr.engine()(banner)
            lines.append([[text, float(score)] for _, text, score in found or []])
            region = region_mask(ultrasound_regions(ds), ds.Rows, ds.Columns)
            decisions.append([
                [list(box) for box in check_burned_text(frame, kept, 255, False, True).text]
                for kept in (np.ones_like(region), region)
            ])  # fmt: skip
    print(json.dumps({
        "settings": vars(args),
        "lines_sha256": digest([[text for text, _ in crop] for crop in lines]),
        "scores_sha256": digest([[round(score, 3) for _, score in crop] for crop in lines]),
        "decisions_sha256": digest(decisions),
        "lowest_banner_score": round(min(s for crop in lines for _, s in crop), 4),
        "lines": lines,
        "decisions": decisions,
    }, ensure_ascii=False, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
