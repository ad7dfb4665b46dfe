"""Decode one imported sequence, clean its burned-in text and write the frames contract.

The frames of one sequence (image files or a video) are decoded to 8-bit gray, blanked outside
the kept area by the same Clean Pixel Data function as DICOM (``dynbus.deid.pixels``; non-DICOM
frames carry no ultrasound regions, so ``deid.fallback_box`` is the kept area) and written as
``{frame:06d}.png`` + ``meta.json`` by ``dynbus.ingest.frames.write_frame_folder``.
"""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from dynbus.deid.deidentify import clean_pixels
from dynbus.errors import DynbusError, InputFileError
from dynbus.ingest.frames import write_frame_folder
from dynbus.ingest.sources.video import decode_gray

GRAY_MODES = {"L", "P", "RGB", "RGBA", "LA", "1"}


def decode_image(data: bytes, name: str | Path) -> np.ndarray:
    """One frame image (PNG, JPEG, ...) as 8-bit gray; colour becomes BT.601 luma. ``name``
    (the file, or ``zip:member``) is what an error names."""
    try:
        if str(name).lower().endswith((".jpg", ".jpeg")):
            return simplejpeg.decode_jpeg(data, colorspace="GRAY")[:, :, 0]
        with Image.open(io.BytesIO(data)) as image:
            if image.mode not in GRAY_MODES:
                raise InputFileError(name, f"image mode {image.mode} (need 8-bit gray or colour)")
            return np.asarray(image if image.mode == "L" else image.convert("L"))
    except (UnidentifiedImageError, ValueError, OSError) as error:
        raise InputFileError(name, f"unreadable image ({error})") from error


def read_image(path: Path) -> np.ndarray:
    """One frame image file as 8-bit gray (see ``decode_image``)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise InputFileError(path, "frame image not found") from error
    return decode_image(data, path)


def _zip_images(path: Path, members: list[str]) -> list[tuple[bytes, str]]:
    """The bytes of the frame images ``members`` of zip ``path``, read in place."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [(archive.read(member), f"{path}:{member}") for member in members]
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        raise InputFileError(path, f"unreadable zip ({error})") from error


def load_frames(raw_dir: Path, frames: dict[str, Any], workers: int) -> np.ndarray:
    """All frames of one sequence (``SourceSequence.frames``) as an (n, rows, columns) array."""
    if frames["kind"] == "images":
        with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
            if "zip" in frames:
                found = _zip_images(raw_dir / frames["zip"], frames["paths"])
                images = list(pool.map(lambda item: decode_image(*item), found))
            else:
                images = list(pool.map(read_image, [raw_dir / p for p in frames["paths"]]))
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            where = raw_dir / (frames.get("zip") or Path(frames["paths"][0]).parent)
            raise InputFileError(where, f"frames of several sizes {sorted(shapes)}")
        return np.stack(images)
    path = raw_dir / frames["path"]
    decoded = list(decode_gray(path))
    indices = frames["indices"]
    if indices is None:
        return np.stack(decoded)
    if max(indices) >= len(decoded):
        problem = f"the task keeps video frame {max(indices)}, beyond its {len(decoded)} frames"
        raise InputFileError(path, problem)
    return np.stack([decoded[index] for index in indices])


def clean_frames(frames: np.ndarray, deid: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Blank outside the kept area and burned-in text inside it with the DICOM path's
    ``dynbus.deid.deidentify.clean_pixels`` (config section ``deid``): the frames are wrapped in
    an 8-bit MONOCHROME2 dataset so that DICOM and imported frames get one cleaning. Returns the
    cleaned frames and the pixel audit record."""
    n, rows, columns = frames.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, n
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    record, _ = clean_pixels(ds, deid)
    return ds.pixel_array.reshape(n, rows, columns), record


def prepare_sequence(
    spec: dict[str, Any], deid: dict[str, Any], workers: int
) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    """Decode, check and clean one sequence described by ``spec`` (from ``dynbus import``);
    return the cleaned frames, their meta.json and the pixel audit record."""
    raw_dir = Path(spec["raw_dir"])
    frames = load_frames(raw_dir, spec["frames"], workers)
    name = spec["sequence_id"]
    expected = (spec["n_frames"], spec["rows"], spec["columns"])
    if frames.shape != expected:
        frames_of = spec["frames"]
        source = frames_of.get("path") or frames_of.get("zip") or Path(frames_of["paths"][0]).parent
        raise InputFileError(
            raw_dir / source,
            f"decoded {frames.shape}, import listed {expected} (frames, rows, "
            "columns): corrupt or changed since dynbus import",
        )
    try:
        cleaned, audit = clean_frames(frames, deid)
    except DynbusError as error:
        raise DynbusError(f"{name}: {error}") from error
    meta = {
        "n_frames": int(cleaned.shape[0]),
        "rows": spec["rows"],
        "columns": spec["columns"],
        "frame_time_ms": spec["frame_time_ms"],
        "regions": [list(box) for box in audit["regions"]],
    }
    return cleaned, meta, audit


def write_sequence(outdir: Path, cleaned: np.ndarray, meta: dict[str, Any], workers: int) -> None:
    """Write prepared frames + meta.json with the DICOM path's writer."""
    images = [lambda index=index: cleaned[index] for index in range(cleaned.shape[0])]
    write_frame_folder(outdir, images, meta, workers, outdir.name)


def import_sequence(
    spec: dict[str, Any], outdir: Path, deid: dict[str, Any], workers: int
) -> dict[str, Any]:
    """Decode, check, clean and write one sequence; return the pixel audit record."""
    cleaned, meta, audit = prepare_sequence(spec, deid, workers)
    write_sequence(outdir, cleaned, meta, workers)
    return audit
