"""Benchmark of OCR engines on the simulator's burned-in text (Latin and Chinese names).

Per simulated sequence, on its first frame as gray: the banner above the ultrasound region
(planted: the name as shown, in Latin or Chinese characters, and the patient id) and the
region itself (tissue only: any line read there is a false hit). Prints, per engine, the recall
of the planted strings (exact substring of the text read, spaces ignored), the false hits, the
median time per crop (process CPU time, one thread) and the engine's version.

    .venv/bin/python benchmarks/ocr_engines.py [--patients 40] [--engine rapidocr-onnxruntime]

``--engine rapidocr`` measures RapidOCR 3 (``pip install rapidocr``, not in the lock) the same way.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pydicom
from simulated import simulate

from dynbus.deid.pixels import decoded_frames

Reader = Callable[[np.ndarray], list[tuple[str, float]]]


def rapidocr_onnxruntime() -> Reader:
    """The engine dynbus locks, with dynbus's settings."""
    from rapidocr_onnxruntime import RapidOCR

    from dynbus.deid.ocr import SETTINGS

    engine = RapidOCR(**SETTINGS)

    def read(image: np.ndarray) -> list[tuple[str, float]]:
        found, _ = engine(np.repeat(image[..., None], 3, axis=-1))
        return [(text, float(score)) for _, text, score in found or []]

    return read


def rapidocr() -> Reader:
    """RapidOCR 3 with its bundled default models and dynbus's settings."""
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.use_cls": False, "Global.log_level": "error",
                              "Det.limit_type": "max", "Det.limit_side_len": 1280,
                              "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                              "EngineConfig.onnxruntime.inter_op_num_threads": 1})  # fmt: skip

    def read(image: np.ndarray) -> list[tuple[str, float]]:
        out = engine(np.repeat(image[..., None], 3, axis=-1))
        return list(zip(out.txts or (), map(float, out.scores or ()), strict=True))

    return read


ENGINES = {"rapidocr-onnxruntime": rapidocr_onnxruntime, "rapidocr": rapidocr}


def gray(frame: np.ndarray) -> np.ndarray:
    """A frame as 8-bit gray (the brightest channel: the banner may be tinted)."""
    return frame.max(axis=-1) if frame.ndim == 3 else frame


def main() -> None:
    """Simulate, read every banner and tissue crop, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--engine", choices=sorted(ENGINES), default="rapidocr-onnxruntime")
    args = parser.parse_args()
    read = ENGINES[args.engine]()
    settings = {"frames": [4, 4], "rows": 256, "columns": 320}
    counts = {"latin_names": 0, "latin_found": 0, "cjk_names": 0, "cjk_found": 0,
              "ids": 0, "ids_found": 0, "tissue_crops": 0, "tissue_false_hits": 0}  # fmt: skip
    seconds, scores = [], {"planted": [], "tissue": []}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        for path in simulate(raw, args.seed, args.patients, settings):
            ds = pydicom.dcmread(path)
            frame = gray(decoded_frames(ds)[0])
            region = ds.SequenceOfUltrasoundRegions[0]
            x0, y0 = int(region.RegionLocationMinX0), int(region.RegionLocationMinY0)
            x1, y1 = int(region.RegionLocationMaxX1), int(region.RegionLocationMaxY1)
            crops = {"banner": frame[:y0], "tissue": frame[y0 : y1 + 1, x0 : x1 + 1]}
            read_out = {}
            for name, crop in crops.items():
                start = time.process_time()
                read_out[name] = read(np.ascontiguousarray(crop))
                seconds.append(time.process_time() - start)
            text = "".join(line for line, _ in read_out["banner"]).replace(" ", "")
            names = str(ds.PatientName).split("=")
            chinese = len(names) > 1
            planted = names[1].replace("^", "") if chinese else names[0].split("^")[0]
            kind = "cjk" if chinese else "latin"
            shown = planted if chinese else planted.upper()
            shown = "".join(c for c in shown if c.isalnum()) if chinese else shown
            counts[f"{kind}_names"] += 1
            counts[f"{kind}_found"] += shown in text.upper() or _folded(shown) in text.upper()
            counts["ids"] += 1
            counts["ids_found"] += str(ds.PatientID) in text
            counts["tissue_crops"] += 1
            counts["tissue_false_hits"] += bool(read_out["tissue"])
            scores["planted"] += [score for _, score in read_out["banner"]]
            scores["tissue"] += [score for _, score in read_out["tissue"]]
    print(json.dumps({
        "engine": f"{args.engine} {version(args.engine)}",
        "onnxruntime": version("onnxruntime"),
        **counts,
        "ms_per_crop_median": round(1000 * float(np.median(seconds)), 1),
        "ms_per_crop_max": round(1000 * max(seconds), 1),
        "banner_line_score_min": round(min(scores["planted"], default=0), 3),
        "tissue_line_score_max": round(max(scores["tissue"], default=0), 3),
    }, indent=1))  # fmt: skip


def _folded(name: str) -> str:
    from dynbus.simulate.phi import ascii_fold

    return ascii_fold(name)


if __name__ == "__main__":
    main()
