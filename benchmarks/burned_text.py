"""Benchmark of the burned-in text check of ``dynbus deidentify`` on simulated cine loops.

Per sequence, on the decoded frames: (1) the check inside the file's own ultrasound region (the
usual case: the simulator's banner lies outside it, so anything found is a false positive on
tissue) and (2) the check with the region widened to the whole frame (the banner, labels and
scale are then inside the kept area: found, read by OCR once, blanked). Prints the median and
maximum CPU time per sequence (this process, OCR included: wall time on a shared machine says
little) and the false-positive and banner-found counts.

    .venv/bin/python benchmarks/burned_text.py [--patients 10] [--rows 256 --columns 320]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from simulated import simulate

from dynbus.deid.burned_text import check_burned_text
from dynbus.deid.pixels import decoded_frames, region_mask, ultrasound_regions


def main() -> None:
    """Simulate, check every sequence twice, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--columns", type=int, default=320)
    parser.add_argument("--frames", type=int, nargs=2, default=[16, 30])
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args()
    settings = {"frames": args.frames, "rows": args.rows, "columns": args.columns}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        paths = simulate(raw, args.seed, args.patients, settings)
        region_s, whole_s, false_positive_px, banner_found, frames_seen = [], [], [], 0, []
        for path in paths:
            ds = pydicom.dcmread(path)
            frames = decoded_frames(ds)
            frames_seen.append(len(frames))
            kept = region_mask(ultrasound_regions(ds), ds.Rows, ds.Columns)
            start = time.process_time()
            check = check_burned_text(frames, kept, 255, invert=False, use_ocr=True)
            region_s.append(time.process_time() - start)
            false_positive_px.append(int(region_mask(check.blank, ds.Rows, ds.Columns).sum()))
            start = time.process_time()
            whole = check_burned_text(frames, np.ones_like(kept), 255, invert=False, use_ocr=True)
            whole_s.append(time.process_time() - start)
            top = int(ds.SequenceOfUltrasoundRegions[0].RegionLocationMinY0)
            banner_found += any(box[1] < top - 2 for box in whole.text)
    print(json.dumps({
        "size": f"{args.rows}x{args.columns}", "sequences": len(region_s),
        "frames_median": float(np.median(frames_seen)),
        "ocr": check.ocr,
        "region_cpu_ms_median": round(1000 * float(np.median(region_s)), 1),
        "region_cpu_ms_max": round(1000 * max(region_s), 1),
        "whole_frame_cpu_ms_median": round(1000 * float(np.median(whole_s)), 1),
        "whole_frame_cpu_ms_max": round(1000 * max(whole_s), 1),
        "sequences_with_false_blanking": sum(px > 0 for px in false_positive_px),
        "false_blanked_pixels": sum(false_positive_px),
        "banner_text_found_whole_frame": banner_found,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
