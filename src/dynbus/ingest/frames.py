"""``dynbus frames INPUT OUTDIR``: one de-identified cine -> 8-bit gray PNG frames + meta.json.

INPUT is one (multi-frame) DICOM file or a directory of single-frame files of one series
(grouped by SeriesInstanceUID, ordered by InstanceNumber). OUTDIR receives ``{frame:06d}.png``
(full frame size) and ``meta.json`` (``n_frames, rows, columns, frame_time_ms, regions``, the
regions' physical calibration ``spacing_mm`` (each spatially calibrated region's box and mm per
pixel in x and y), the scanner's ``manufacturer`` and ``model``, and each frame's perceptual
hash and thumbnail for the duplicate check, ``phash, phash_contrast, thumbnails``); it is built
in a temporary sibling and renamed, so a failure leaves nothing.

JPEG Baseline YCbCr / monochrome frames take a fast path: only the luma is decoded
(``simplejpeg``, colourspace GRAY), which is the ITU-R BT.601 gray of the colour frame. Every other
transfer syntax / photometric interpretation goes through pydicom's decoders.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_voi_lut
from pydicom.uid import JPEGBaseline8Bit

from dynbus.deid.pixels import ultrasound_regions
from dynbus.errors import DynbusError, InputFileError
from dynbus.ingest.crop_match import thumbnails, to_base64
from dynbus.ingest.phash import downscale, hash_downscales, to_hex
from dynbus.io.atomic import atomic_dir, write_json
from dynbus.io.dicom_io import (
    decode_jpeg_luma,
    encoded_frames,
    integer_value,
    pixel_array,
    read_dicom,
)
from dynbus.io.png_io import encode_png

# BT.601 luma in thousandths: integer products are exact (a float matmul goes through BLAS,
# whose kernel, and so the last bit, differs per CPU)
LUMA_PER_MILLE = np.array([299, 587, 114], dtype=np.int64)
CENTIMETRE = 3  # PhysicalUnitsX/YDirection code of cm (PS3.3 C.8.5.5.1.15)
Frame = Callable[[], np.ndarray]


def get_args_parser() -> argparse.ArgumentParser:
    """Parser of ``dynbus frames``."""
    parser = argparse.ArgumentParser(
        description="Write the frames of one de-identified cine as 8-bit gray PNG + meta.json."
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="DICOM file or series folder")
    parser.add_argument("outdir", type=Path, metavar="OUTDIR", help="output folder")
    parser.add_argument(
        "--threads", type=int, default=1, help="PNG-writing threads (the workflow passes its own)"
    )
    return parser


def _jpeg_luma_frames(ds: Dataset, path: Path) -> list[Frame] | None:
    """Per-frame luma decoders for JPEG Baseline YCbCr / monochrome data, else None."""
    photometric = ds.PhotometricInterpretation
    if ds.file_meta.TransferSyntaxUID != JPEGBaseline8Bit or photometric not in (
        "YBR_FULL_422",
        "YBR_FULL",
        "MONOCHROME2",
    ):
        return None
    return [
        lambda data=data, index=index: decode_jpeg_luma(data, path, index)
        for index, data in enumerate(encoded_frames(ds, path))
    ]


def _value_range(ds: Dataset, arr: np.ndarray) -> tuple[float, float]:
    """The input range mapped onto 0..255."""
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        return 0.0, float(np.iinfo(arr.dtype).max)
    bits = int(ds.BitsStored)
    signed = bool(ds.get("PixelRepresentation", 0))
    full = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if bits <= 8 or "WindowCenter" in ds:
        return float(full[0]), float(full[1])
    low, high = float(arr.min()), float(arr.max())
    return low, max(high, low + 1)


def _decoded_frames(ds: Dataset, path: Path) -> list[Frame]:
    """Per-frame gray conversions of pydicom's decoded pixels (any syntax / photometric)."""
    arr = pixel_array(ds, path)  # YBR_* arrive as RGB (pydicom's default as_rgb=True)
    photometric = ds.PhotometricInterpretation
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
    elif "WindowCenter" in ds and ds.SamplesPerPixel == 1:
        arr = apply_voi_lut(arr, ds)
    samples = (3,) if ds.SamplesPerPixel == 3 or photometric == "PALETTE COLOR" else ()
    frames = arr.reshape(-1, ds.Rows, ds.Columns, *samples)
    low, high = _value_range(ds, frames)
    invert = photometric == "MONOCHROME1"

    if frames.dtype == np.uint8 and not samples and (low, high) == (0.0, 255.0):
        # the scaling below is the identity here: skip it (~0.03 ms of a 128 x 160 frame)
        return [
            lambda index=index: 255 - frames[index] if invert else frames[index]
            for index in range(frames.shape[0])
        ]

    def gray(index: int) -> np.ndarray:
        frame = frames[index]
        if frame.ndim == 3:
            frame = frame.astype(np.int64) @ LUMA_PER_MILLE / 1000.0
        else:
            frame = frame.astype(np.float32)
        scaled = np.clip(np.rint((frame - low) * (255.0 / (high - low))), 0, 255)
        return (255 - scaled if invert else scaled).astype(np.uint8)

    return [lambda index=index: gray(index) for index in range(frames.shape[0])]


def gray_frames(ds: Dataset, path: Path) -> list[Frame]:
    """One callable per frame of ``ds`` returning its 8-bit gray image (rows x columns)."""
    return _jpeg_luma_frames(ds, path) or _decoded_frames(ds, path)


def _series_files(folder: Path) -> list[Path]:
    """The files of the one series in ``folder``, in InstanceNumber order."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputFileError(folder, "no DICOM files in the folder")
    keys: dict[Path, tuple[str, int]] = {}
    for path in files:
        try:
            head = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception as error:  # noqa: BLE001 - any reader failure is a bad input file
            raise InputFileError(path, f"not a readable DICOM file ({error})") from error
        number = integer_value(head, "InstanceNumber", path, 0)
        keys[path] = (str(head.get("SeriesInstanceUID", "")), number)
    series = {uid for uid, _ in keys.values()}
    if len(series) > 1:
        raise InputFileError(folder, f"holds {len(series)} series; give one series per folder")
    return sorted(files, key=lambda p: (keys[p][1], p.name))


def _frame_time_ms(ds: Dataset) -> float | None:
    if ds.get("FrameTime") not in (None, ""):
        return float(ds.FrameTime)
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        if ds.get(keyword) not in (None, "") and float(ds.get(keyword)) > 0:
            return 1000.0 / float(ds.get(keyword))
    return None


def extract_frames(source: Path, outdir: Path, workers: int) -> dict[str, Any]:
    """Write the PNG frames and meta.json of ``source`` (file or series folder) to ``outdir``."""
    paths = _series_files(source) if source.is_dir() else [source]
    first = read_dicom(paths[0])
    rows, columns = int(first.Rows), int(first.Columns)
    if len(paths) == 1:
        frames = gray_frames(first, paths[0])
    else:
        frames = [lambda path=path: _single_frame(path, rows, columns) for path in paths]
    meta = sequence_meta(first, len(frames))
    return write_frame_folder(outdir, frames, meta, workers, str(source))


def sequence_meta(first: Dataset, n_frames: int) -> dict[str, Any]:
    """``meta.json`` of a sequence whose first dataset is ``first``."""
    return {
        "n_frames": n_frames,
        "rows": int(first.Rows),
        "columns": int(first.Columns),
        "frame_time_ms": _frame_time_ms(first),
        "regions": [list(box) for box in ultrasound_regions(first)],
        "spacing_mm": region_spacing_mm(first),
        "manufacturer": str(first.get("Manufacturer", "")),
        "model": str(first.get("ManufacturerModelName", "")),
    }


def region_spacing_mm(ds: Dataset) -> list[dict[str, list[float] | list[int]]]:
    """Each ultrasound region calibrated in cm on both axes (``PhysicalUnitsX/YDirection`` 3,
    PS3.3 C.8.5.5.1.15) with positive ``PhysicalDeltaX/Y``: its box ``(x0, y0, x1, y1)`` and
    ``[mm per pixel in x, in y]``. Regions in other units (s, Hz, cm/s: Doppler, M-mode) are left
    out; a file without any gives ``[]`` and lesion sizes stay in pixels."""
    calibrated = []
    for item in ds.get("SequenceOfUltrasoundRegions", []):
        try:
            units = (int(item.PhysicalUnitsXDirection), int(item.PhysicalUnitsYDirection))
            delta = (float(item.PhysicalDeltaX), float(item.PhysicalDeltaY))
            box = [
                int(item.RegionLocationMinX0),
                int(item.RegionLocationMinY0),
                int(item.RegionLocationMaxX1),
                int(item.RegionLocationMaxY1),
            ]
        except (AttributeError, TypeError, ValueError):
            continue
        if units == (CENTIMETRE, CENTIMETRE) and min(delta) > 0:
            calibrated.append({"box": box, "mm_per_px": [10 * delta[0], 10 * delta[1]]})
    return calibrated


def dataset_frames(datasets: list[Dataset], paths: list[Path]) -> list[Frame]:
    """The frames of a sequence already in memory: one multi-frame dataset or one per frame."""
    if len(datasets) == 1:
        return gray_frames(datasets[0], paths[0])
    rows, columns = int(datasets[0].Rows), int(datasets[0].Columns)
    return [
        lambda ds=ds, path=path: _only_frame(ds, path, rows, columns)
        for ds, path in zip(datasets, paths, strict=True)
    ]


def write_frame_folder(
    outdir: Path, frames: list[Frame], meta: dict[str, Any], workers: int, name: str
) -> dict[str, Any]:
    """Write ``{index:06d}.png`` for each frame and ``meta.json`` into ``outdir``, atomically;
    return what ``meta.json`` holds.

    ``frames`` are callables returning ``meta['rows']`` x ``meta['columns']`` uint8 images; they
    run in ``workers`` threads. ``meta.json`` also gets each frame's perceptual hash and contrast
    (``phash``, ``phash_contrast``; :mod:`dynbus.ingest.phash`) and 32 x 32 thumbnail
    (``thumbnails``, :mod:`dynbus.ingest.crop_match`), taken while the frame is in memory.
    ``name`` identifies the source in the size-mismatch error.
    """
    if not frames:
        raise DynbusError(f"{name}: no frames to write")
    rows, columns = meta["rows"], meta["columns"]
    with atomic_dir(outdir) as tmp:

        def write(index: int) -> np.ndarray:
            image = frames[index]()
            if image.shape != (rows, columns):
                raise DynbusError(f"{name}: frame {index} is {image.shape}, not {rows}x{columns}")
            (tmp / f"{index:06d}.png").write_bytes(encode_png(image))
            return downscale(image)

        if workers > 1:  # a pool of one thread only adds a hand-off per frame
            with ThreadPoolExecutor(max_workers=workers) as pool:
                small = list(pool.map(write, range(len(frames))))
        else:
            small = [write(index) for index in range(len(frames))]
        downscales = np.stack(small)
        hashes, contrast = hash_downscales(downscales)
        meta = meta | {"phash": to_hex(hashes), "phash_contrast": contrast.tolist()}
        # the crop-tolerant duplicate check's input (dynbus.ingest.crop_match): the same downscales
        meta["thumbnails"] = to_base64(thumbnails(downscales))
        write_json(tmp / "meta.json", meta)
    return meta


def _single_frame(path: Path, rows: int, columns: int) -> np.ndarray:
    return _only_frame(read_dicom(path), path, rows, columns)


def _only_frame(ds: Dataset, path: Path, rows: int, columns: int) -> np.ndarray:
    frames = gray_frames(ds, path)
    if len(frames) != 1 or (ds.Rows, ds.Columns) != (rows, columns):
        raise InputFileError(
            path, f"not a single {rows}x{columns} frame like the rest of the series"
        )
    return frames[0]()


def main(args: argparse.Namespace) -> None:
    """Run ``dynbus frames``."""
    if not args.input.exists():
        raise InputFileError(args.input, "not found")
    extract_frames(args.input, args.outdir, args.threads)
