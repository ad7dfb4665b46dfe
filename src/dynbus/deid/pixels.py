"""Clean Pixel Data option, pixel helpers: the kept area, decoding, blanking, storing.

Pixels are decoded by :func:`dynbus.io.dicom_io.decode_frames` (libjpeg-turbo for JPEG Baseline,
pydicom's decoders otherwise; YBR colour converted to RGB), blanked outside the union of the
``SequenceOfUltrasoundRegions`` boxes (or a configured fallback box) and stored uncompressed
(Explicit VR Little Endian), so the pixels kept are exactly the decoded ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dynbus.errors import DynbusError
from dynbus.io.dicom_io import decode_frames

Box = tuple[int, int, int, int]


def ultrasound_regions(ds: Dataset) -> list[Box]:
    """The region boxes ``(x0, y0, x1, y1)`` (inclusive pixel indices) clipped to the frame."""
    boxes = []
    for item in ds.get("SequenceOfUltrasoundRegions", []):
        try:
            box = (
                int(item.RegionLocationMinX0),
                int(item.RegionLocationMinY0),
                int(item.RegionLocationMaxX1),
                int(item.RegionLocationMaxY1),
            )
        except AttributeError:
            continue
        clipped = clip_box(box, ds.Rows, ds.Columns)
        if clipped is not None:
            boxes.append(clipped)
    return boxes


def clip_box(box: Sequence[int], rows: int, columns: int) -> Box | None:
    """``box`` clipped to a ``rows`` x ``columns`` frame; None when nothing of it is inside."""
    x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
    x1, y1 = min(int(box[2]), columns - 1), min(int(box[3]), rows - 1)
    return (x0, y0, x1, y1) if x0 <= x1 and y0 <= y1 else None


def region_mask(boxes: Sequence[Box], rows: int, columns: int) -> np.ndarray:
    """Boolean ``rows`` x ``columns`` mask, True inside the union of ``boxes``."""
    mask = np.zeros((rows, columns), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0 : y1 + 1, x0 : x1 + 1] = True
    return mask


def kept_boxes(ds: Dataset, fallback_box: Sequence[int] | None) -> tuple[list[Box], str]:
    """The boxes of the image area kept, and where they came from (regions or the fallback).

    Raises ``DynbusError`` when the file has no usable region and no fallback box is configured.
    """
    boxes, source = ultrasound_regions(ds), "SequenceOfUltrasoundRegions"
    if not boxes and fallback_box is not None:
        clipped = clip_box(fallback_box, ds.Rows, ds.Columns)
        boxes, source = ([clipped] if clipped else []), "deid.fallback_box"
    if not boxes:
        raise DynbusError(
            "no SequenceOfUltrasoundRegions inside the frame and no deid.fallback_box "
            "configured: cannot clean burned-in annotations"
        )
    return boxes, source


def decoded_frames(ds: Dataset) -> np.ndarray:
    """Writable pixels, (frames, rows, columns[, samples]); YBR colour decoded to RGB.

    Decoded by :func:`dynbus.io.dicom_io.decode_frames`, whose errors name the file ``ds`` was read
    from.
    """
    frames = decode_frames(ds, getattr(ds, "filename", None) or "pixel data")
    return frames if frames.flags.writeable and frames.base is None else frames.copy()


def mask_spans(where: np.ndarray) -> list[tuple[int, int, int, int]]:
    """``where`` (rows x columns, bool) as rectangles ``(row0, row1, column0, column1)``
    (half-open) covering exactly its True pixels: runs of each band of identical rows."""
    rows = where.shape[0]
    changes = np.flatnonzero((where[1:] != where[:-1]).any(axis=1)) + 1
    starts, stops = np.r_[0, changes], np.r_[changes, rows]
    spans = []
    for row0, row1 in zip(starts.tolist(), stops.tolist(), strict=True):
        edges = np.flatnonzero(np.diff(np.r_[0, where[row0].view(np.int8), 0])).tolist()
        spans += [(row0, row1, a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return spans


def blank(ds: Dataset, frames: np.ndarray, where: np.ndarray) -> None:
    """Set the pixels of every frame where the (rows, columns) mask ``where`` is True to black.

    Filled rectangle by rectangle (:func:`mask_spans`): a few slices instead of a boolean index
    over every frame, which took 0.13 ms per 128 x 160 RGB frame against 0.005 ms.
    """
    value = black_value(ds)
    for row0, row1, column0, column1 in mask_spans(where):
        frames[:, row0:row1, column0:column1] = value


def store_frames(ds: Dataset, frames: np.ndarray) -> None:
    """Store ``frames`` uncompressed (Explicit VR Little Endian) as the pixel data of ``ds``.

    A dataset read from Explicit VR Big Endian (retired, still in old archives) is re-encoded as
    little endian: its elements are parsed values by now, and its big-endian frames are
    byte-swapped to little endian values.
    """
    if ds.original_encoding[1] is False:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.set_original_encoding(False, True, ds.original_character_set)
    frames = frames.astype(frames.dtype.newbyteorder("<"), copy=False)
    photometric = "RGB" if ds.SamplesPerPixel == 3 else str(ds.PhotometricInterpretation)
    ds.set_pixel_data(
        frames if "NumberOfFrames" in ds else frames[0],
        photometric,
        int(ds.BitsStored),
        generate_instance_uid=False,
    )


def black_value(ds: Dataset) -> int:
    """The darkest stored value: the maximum for MONOCHROME1, else the type's minimum."""
    bits = int(ds.BitsStored)
    signed = bool(ds.get("PixelRepresentation", 0))
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return high if ds.PhotometricInterpretation == "MONOCHROME1" else low
