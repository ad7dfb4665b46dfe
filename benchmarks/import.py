"""Time ``dynbus import`` (whole process, frames written) on frame folders and on MP4 videos.

Synthetic speckle sequences (default 8 x 75 frames of 256 x 320) are written once as COCO-VID
frame folders (gray PNG + JSON) and as MP4 (libx264, yuv420p, as scanners and converters export
them). Reported per input: frames/s of ``dynbus import --frames`` with ``--workers`` threads
(manifest, decoding, pixel cleaning, PNG writing; in-process, so both sides exclude
Python start-up); for the videos also the bare PyAV loop
(``container.decode`` -> ``to_ndarray(format="gray")``, same threading) measured in the same run,
and the ratio import / bare decode.

    python benchmarks/import.py [--sequences 8] [--frames 75] [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from scipy.ndimage import gaussian_filter

from dynbus.cli import main as dynbus
from dynbus.io.png_io import encode_png


def sequence(rng: np.random.Generator, frames: int, rows: int, columns: int) -> np.ndarray:
    """A slow sweep over smooth tissue with Rayleigh speckle, on a black border."""
    tissue = gaussian_filter(rng.random((rows + 2 * frames, columns)), 3)
    tissue = (tissue - tissue.min()) / np.ptp(tissue)
    out = np.empty((frames, rows, columns), dtype=np.uint8)
    for index in range(frames):
        speckle = rng.rayleigh(0.5, (rows, columns))
        out[index] = np.clip(tissue[2 * index : 2 * index + rows] * speckle * 180, 0, 255)
    out[:, :, : columns // 16] = 0
    return out


def write_inputs(root: Path, sequences: int, frames: int, rows: int, columns: int) -> None:
    """``root/rawframes`` + ``root/train.json`` and ``root/videos/*.mp4`` of the same frames."""
    rng = np.random.default_rng(0)
    coco: dict[str, list] = {"videos": [], "images": [], "annotations": []}
    for video_id in range(sequences):
        arrays = sequence(rng, frames, rows, columns)
        name = f"case{video_id:03d}"
        coco["videos"].append({"id": video_id, "name": name})
        (root / "rawframes" / name).mkdir(parents=True)
        for frame, array in enumerate(arrays):
            (root / "rawframes" / name / f"{frame:06d}.png").write_bytes(encode_png(array))
            coco["images"].append(
                {
                    "id": len(coco["images"]),
                    "video_id": video_id,
                    "frame_id": frame,
                    "file_name": f"{name}/{frame:06d}.png",
                    "width": columns,
                    "height": rows,
                }
            )
        (root / "videos").mkdir(exist_ok=True)
        with av.open(str(root / "videos" / f"{name}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=30)
            stream.height, stream.width, stream.pix_fmt = rows, columns, "yuv420p"
            stream.options = {"crf": "18", "preset": "fast"}
            for array in arrays:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="gray")))
            container.mux(stream.encode())
    (root / "train.json").write_text(json.dumps(coco))


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_import(root: Path, fmt: str, workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``dynbus import --frames`` (in this process)."""
    out = root / f"out_{fmt}"
    raw = root / ("rawframes" if fmt == "cocovid" else "videos")
    config = {
        "deid": {"fallback_box": [20, 0, 100000, 100000]},
        "source": {
            "format": fmt,
            "coco_json": [str(root / "train.json")] if fmt == "cocovid" else [],
        },
    }
    start, cpu = time.perf_counter(), cpu_seconds()
    code = dynbus(
        [
            "import",
            str(raw),
            "--key",
            str(root / "key.hex"),
            "--private",
            str(out / "private.csv"),
            "--out",
            str(out / "manifest.csv"),
            "--boxes",
            str(out / "boxes.csv"),
            "--specs",
            str(out / "specs"),
            "--frames",
            str(out / "frames"),
            "--workers",
            str(workers),
            "--config",
            json.dumps(config),
        ]
    )
    assert code == 0
    return time.perf_counter() - start, cpu_seconds() - cpu


def bare_decode(root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the bare PyAV loop over every video (gray, threaded decoding)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for path in sorted((root / "videos").glob("*.mp4")):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frame.to_ndarray(format="gray")
    return time.perf_counter() - start, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--frames", type=int, default=75)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--columns", type=int, default=320)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.sequences * args.frames
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_inputs(root, args.sequences, args.frames, args.rows, args.columns)
        folders = min(run_import(root, "cocovid", args.workers) for _ in range(args.repeat))
        runs = [
            (run_import(root, "video", args.workers), bare_decode(root)) for _ in range(args.repeat)
        ]
        videos = min(run[0] for run in runs)
        bare = min(run[1] for run in runs)
    print(
        f"{n} frames of {args.rows}x{args.columns}, {args.workers} workers, best of "
        f"{args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for label, (wall, cpu) in [
        ("frame folders (COCO-VID)", folders),
        ("MP4 (libx264)", videos),
        ("bare PyAV decode loop", bare),
    ]:
        print(f"{label:26s} {n / wall:6.0f} frames/s wall ({wall:.2f} s), {cpu:.2f} s CPU")
    print(f"import / bare decode: {bare[0] / videos[0]:.2f}x wall, {bare[1] / videos[1]:.2f}x CPU")


if __name__ == "__main__":
    main()
