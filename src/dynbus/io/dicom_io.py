"""Read one DICOM file and check that a cine stage can use it (shared by manifest, deid, frames).

Every problem a user can fix is an ``InputFileError(path, problem)``: the file is missing,
truncated, not DICOM, not ultrasound, has no pixel data or no PatientID, a non-integer
NumberOfFrames / InstanceNumber, pixel data holding more or fewer frames than NumberOfFrames, a
frame that does not decode, pixel data of other than 8 or 16 bits allocated, or a transfer syntax
without an installed decoder. Files without the
128-byte preamble are read when their content is DICOM; Deflated Explicit VR files are inflated.
"""

from __future__ import annotations

import os
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pydicom
import simplejpeg
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_fragments, parse_basic_offsets
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
)

from dynbus.errors import InputFileError

ULTRASOUND_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image Storage
    "1.2.840.10008.5.1.4.1.1.6",  # retired Ultrasound Image Storage
    "1.2.840.10008.5.1.4.1.1.3",  # retired Ultrasound Multi-frame Image Storage
}
HEADER_DEFER_SIZE = "64 KB"
UNDEFINED_LENGTH = 0xFFFFFFFF
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # (FFFE,E0DD), length 0
PIXEL_DATA = 0x7FE00010
TRUNCATED = "truncated DICOM file (ends inside the pixel data)"
# What the de-identified copy can store (pydicom's set_pixel_data: 8- and 16-bit integers).
SUPPORTED_BITS_ALLOCATED = (8, 16)
# A file without preamble starts with the file meta group (0002) or the dataset (0008), LE.
DICOM_WITHOUT_PREAMBLE = (b"\x02\x00", b"\x08\x00")
# First bytes of an encoded frame: JPEG / JPEG-LS SOI, JPEG 2000 SOC, JP2 signature box.
FRAME_STARTS = (b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")
# pydicom tries its plugins in a fixed order (pylibjpeg before pyjpegls for JPEG-LS); CharLS
# (pyjpegls) decodes the same exact JPEG-LS pixels about 4 times faster than libjpeg.
_PREFERRED_PLUGIN = {JPEGLSLossless: "pyjpegls", JPEGLSNearLossless: "pyjpegls"}
# JPEG Baseline photometric interpretations decoded by libjpeg-turbo, and the colour it gives.
_FAST_JPEG = {"YBR_FULL_422": "RGB", "YBR_FULL": "RGB", "MONOCHROME2": "GRAY"}


def _dcmread(path: str | Path, defer_size: str | None) -> Dataset:
    """``dcmread``; a preamble-less file is read with ``force=True`` when it starts like DICOM.

    Without file meta information, the transfer syntax is the (native) encoding pydicom found.
    """
    try:
        return pydicom.dcmread(path, defer_size=defer_size)
    except InvalidDicomError:
        with open(path, "rb") as handle:
            if handle.read(2) not in DICOM_WITHOUT_PREAMBLE:
                raise
    ds = pydicom.dcmread(path, defer_size=defer_size, force=True)
    if "TransferSyntaxUID" not in ds.file_meta and ds.original_encoding[0] is not None:
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian
            if implicit
            else ExplicitVRLittleEndian
            if little
            else ExplicitVRBigEndian
        )
    return ds


def _read(path: str | Path, defer_size: str | None = None) -> Dataset:
    """``pydicom.dcmread`` with every read failure turned into an ``InputFileError``."""
    if Path(path).is_file() and os.path.getsize(path) == 0:
        raise InputFileError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = _dcmread(path, defer_size)
            syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
            if defer_size is not None and syntax is not None and syntax.is_deflated:
                ds = _dcmread(path, None)  # deferred offsets would point into the inflated data
    except FileNotFoundError as error:
        raise InputFileError(path, "file not found") from error
    except IsADirectoryError as error:
        raise InputFileError(path, "a folder, not a DICOM file") from error
    except InvalidDicomError as error:
        raise InputFileError(path, "not a DICOM file (no 'DICM' preamble)") from error
    except (OSError, EOFError, ValueError, KeyError, TypeError) as error:
        raise InputFileError(path, f"unreadable or truncated DICOM file ({error})") from error
    if any("End of file reached" in str(w.message) for w in caught):
        raise InputFileError(path, TRUNCATED)
    _check_header_complete(ds, path)
    return ds


def _check_header_complete(ds: Dataset, path: str | Path) -> None:
    """Raise if the file ends in its header: no element at all, or a last element cut short.

    Short pixel data is left to :func:`check_dataset`, which says how much of it is there.
    """
    if len(ds) == 0:
        raise InputFileError(path, "truncated DICOM file (ends in the file meta information)")
    last = ds.get_item(max(ds.keys()), keep_deferred=True)
    if (
        isinstance(last, RawDataElement)
        and last.tag != PIXEL_DATA
        and last.value is not None
        and last.length != UNDEFINED_LENGTH
        and len(last.value) < last.length
    ):
        raise InputFileError(path, f"truncated DICOM file (ends inside element {last.tag})")


def read_dicom(path: str | Path) -> Dataset:
    """Read ``path`` completely and check it; return the dataset.

    Frames are not decoded here: every caller decodes them all anyway, and a frame that does not
    decode raises there (:func:`decode_frames`, :func:`decode_jpeg_luma`, :func:`pixel_array`).
    """
    ds = _read(path)
    check_dataset(ds, path)
    return ds


def read_header(path: str | Path) -> Dataset:
    """Read and check ``path`` without loading its pixel data (deferred): to list a study.

    Truncation is judged from the file size: native pixel data must be as long as announced,
    encapsulated pixel data must end the file with its Sequence Delimitation Item. Frames are
    not decoded (see :func:`check_frames`).
    """
    ds = _read(path, defer_size=HEADER_DEFER_SIZE)
    check_dataset(ds, path)
    return ds


def _pixel_data_size(ds: Dataset, path: str | Path) -> int:
    """Bytes of Pixel Data in the file, whether read or deferred (0 when there is none)."""
    element = ds.get_item("PixelData", keep_deferred=True)
    deferred = element.value is None and getattr(element, "value_tell", None) is not None
    if not deferred or element.length == 0:
        return len(element.value or b"")
    available = os.path.getsize(path) - element.value_tell
    if element.length != UNDEFINED_LENGTH:
        return min(element.length, available)
    with open(path, "rb") as handle:
        handle.seek(-len(SEQUENCE_DELIMITER), os.SEEK_END)
        if handle.read() != SEQUENCE_DELIMITER:
            raise InputFileError(path, TRUNCATED)
    return available


Default = TypeVar("Default", int, None)


def integer_value(ds: Dataset, keyword: str, path: str | Path, default: Default) -> int | Default:
    """The integer value of ``keyword`` (``default`` when absent or empty)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid values raised below
        value = ds.get(keyword)
    if value is None or str(value).strip() == "":
        return default
    try:
        return int(str(value).strip())
    except ValueError as error:
        raise InputFileError(path, f"{keyword} {str(value)!r} is not an integer") from error


def number_of_frames(ds: Dataset, path: str | Path) -> int:
    """NumberOfFrames (1 when absent or empty); raise unless it is a positive integer."""
    frames = integer_value(ds, "NumberOfFrames", path, 1)
    if frames < 1:
        raise InputFileError(path, f"NumberOfFrames {frames} is not a positive integer")
    return frames


def check_dataset(ds: Dataset, path: str | Path) -> None:
    """Raise ``InputFileError`` unless ``ds`` is a decodable ultrasound image with a PatientID."""
    if "PixelData" not in ds:
        last = max(ds.keys())
        raise InputFileError(
            path, f"no Pixel Data: the file ends after element {last} (not an image, or truncated)"
        )
    modality = str(ds.get("Modality", "") or "")
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if modality != "US" and sop_class not in ULTRASOUND_SOP_CLASSES:
        raise InputFileError(path, f"not an ultrasound image (Modality {modality or 'missing'!r})")
    if not str(ds.get("PatientID", "") or "").strip():
        raise InputFileError(path, "no PatientID: cannot assign a patient pseudonym")
    if not str(ds.get("SOPInstanceUID", "") or "").strip():
        raise InputFileError(path, "no SOPInstanceUID")
    frames = number_of_frames(ds, path)
    integer_value(ds, "InstanceNumber", path, 0)
    present = _pixel_data_size(ds, path)
    if present == 0:
        raise InputFileError(path, "no Pixel Data (not an image, or the file is truncated)")
    for keyword in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel"):
        if keyword not in ds:
            raise InputFileError(path, f"no {keyword}: cannot interpret the pixel data")
    if ds.BitsAllocated not in SUPPORTED_BITS_ALLOCATED:
        raise InputFileError(
            path, f"BitsAllocated {ds.BitsAllocated}: only 8- or 16-bit pixel data is supported"
        )
    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    if syntax is None:
        raise InputFileError(path, "no TransferSyntaxUID in the file meta information")
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as error:
        problem = f"cannot decode transfer syntax {syntax} ({syntax.name})"
        raise InputFileError(path, problem) from error
    if not decoder.is_available:
        raise InputFileError(path, f"no installed decoder for transfer syntax {syntax.name}")
    if not syntax.is_compressed:
        _check_native_length(ds, path, present, frames)


def _check_native_length(ds: Dataset, path: str | Path, present: int, frames: int) -> None:
    """Native pixel data must hold exactly NumberOfFrames frames (odd lengths padded by 1)."""
    expected = expected_native_length(ds, frames)
    if present < expected:
        raise InputFileError(
            path,
            f"truncated pixel data ({present} of {expected} bytes for NumberOfFrames {frames})",
        )
    frame_length = expected_native_length(ds, 1)
    if frame_length and present - expected >= frame_length:
        raise InputFileError(
            path,
            f"NumberOfFrames {frames} but the pixel data holds {present // frame_length} frames",
        )


def expected_native_length(ds: Dataset, frames: int) -> int:
    """Bytes of uncompressed pixel data the header announces for ``frames`` frames."""
    pixels = ds.Rows * ds.Columns * ds.SamplesPerPixel * frames
    if ds.BitsAllocated == 1:
        return (pixels + 7) // 8
    if ds.get("PhotometricInterpretation") == "YBR_FULL_422":
        pixels = pixels // 3 * 2
    return pixels * (ds.BitsAllocated // 8)


def encoded_frames(ds: Dataset, path: str | Path) -> list[bytes]:
    """The encoded frames of encapsulated pixel data; raise unless there are NumberOfFrames.

    Frames follow the Basic Offset Table when it has entries; otherwise one fragment is one
    frame when the counts agree, and else a frame starts at each fragment that begins with a
    JPEG / JPEG-LS / JPEG 2000 start marker.
    """
    frames = number_of_frames(ds, path)
    try:
        buffer = BytesIO(ds.PixelData)
        offsets = parse_basic_offsets(buffer)
        fragments = list(generate_fragments(buffer))
    except (ValueError, TypeError) as error:
        raise InputFileError(path, f"corrupt encapsulated pixel data ({error})") from error
    starts = [0]
    if offsets:
        position, starts = 0, []
        for index, fragment in enumerate(fragments):
            if position in offsets:
                starts.append(index)
            position += len(fragment) + 8
    elif len(fragments) != frames:
        starts = [i for i, f in enumerate(fragments) if i == 0 or f.startswith(FRAME_STARTS)]
    else:
        starts = list(range(len(fragments)))
    if len(starts) != frames:
        raise InputFileError(
            path, f"NumberOfFrames {frames} but {len(starts)} encoded frames in the pixel data"
        )
    bounds = [*starts, len(fragments)]
    return [b"".join(fragments[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


def _decode_jpeg(data: bytes, path: str | Path, index: int, **options: Any) -> np.ndarray:
    """``simplejpeg.decode_jpeg(data, **options)``; InputFileError naming the frame if corrupt."""
    try:
        return simplejpeg.decode_jpeg(data, **options)
    except ValueError as error:
        raise InputFileError(path, f"frame {index}: corrupt JPEG data ({error})") from error


def decode_jpeg_luma(data: bytes, path: str | Path, index: int) -> np.ndarray:
    """The luma (8-bit gray) of one JPEG Baseline frame; raise if the stream is corrupt."""
    return _decode_jpeg(data, path, index, colorspace="GRAY")[:, :, 0]


def decode_frames(ds: Dataset, path: str | Path) -> np.ndarray:
    """Every frame, (frames, rows, columns[, samples]); YBR colour decoded to RGB.

    JPEG Baseline YCbCr / monochrome frames are decoded by libjpeg-turbo (``simplejpeg``), which
    also converts YCbCr to RGB: 5-8 times faster than pydicom's default JPEG plugin (libjpeg 9)
    on the simulated cines, and within a few grey levels of it (lossy data, two valid decoders).
    Every other transfer syntax goes through pydicom's decoders. Raises ``InputFileError`` when
    a frame is missing, corrupt or not Rows x Columns.
    """
    colorspace = _FAST_JPEG.get(str(ds.PhotometricInterpretation))
    if ds.file_meta.TransferSyntaxUID != JPEGBaseline8Bit or colorspace is None:
        samples = (ds.SamplesPerPixel,) if ds.SamplesPerPixel > 1 else ()
        return pixel_array(ds, path).reshape(-1, ds.Rows, ds.Columns, *samples)
    frames = []
    for index, data in enumerate(encoded_frames(ds, path)):
        frame = _decode_jpeg(data, path, index, colorspace=colorspace)
        if frame.shape != (ds.Rows, ds.Columns, ds.SamplesPerPixel):
            raise InputFileError(
                path,
                f"frame {index} is {frame.shape[0]}x{frame.shape[1]}x{frame.shape[2]}, not "
                f"{ds.Rows}x{ds.Columns}x{ds.SamplesPerPixel}",
            )
        frames.append(frame if colorspace == "RGB" else frame[:, :, 0])
    return np.stack(frames)


def check_frames(ds: Dataset, path: str | Path) -> None:
    """Raise unless every frame of compressed pixel data is there and decodes to Rows x Columns.

    JPEG Baseline frames are checked by :func:`check_jpeg_frame`; other syntaxes decoded by pydicom.
    Native pixel data is checked by :func:`check_dataset` (its length).
    """
    syntax = ds.file_meta.TransferSyntaxUID
    if not syntax.is_compressed:
        return
    frames = encoded_frames(ds, path)
    if syntax == JPEGBaseline8Bit:
        for index, data in enumerate(frames):
            check_jpeg_frame(data, path, index, (ds.Rows, ds.Columns))
        return
    pixel_array(ds, path)


def check_jpeg_frame(data: bytes, path: str | Path, index: int, shape: tuple[int, int]) -> None:
    """Raise unless one JPEG Baseline frame is ``shape`` (rows, columns) and its entropy-coded
    data decodes. Decoded at libjpeg-turbo's smallest scale (1/8): it still reads every
    coefficient but skips most of the inverse DCT (0.11 ms a 128 x 160 frame, against 0.15 ms
    for the full luma)."""
    _decode_jpeg(data, path, index, colorspace="GRAY", min_height=1, min_width=1)
    rows, columns, _, _ = simplejpeg.decode_jpeg_header(data)  # valid: the stream decoded
    if (rows, columns) != shape:
        raise InputFileError(path, f"frame {index} is {rows}x{columns}, not {shape[0]}x{shape[1]}")


def pixel_array(ds: Dataset, path: str | Path) -> np.ndarray:
    """``ds.pixel_array`` (decoded once, then cached by pydicom); raise if it does not decode."""
    syntax = ds.file_meta.TransferSyntaxUID
    plugin = _PREFERRED_PLUGIN.get(syntax)
    if plugin and plugin in get_decoder(syntax).available_plugins:
        ds.pixel_array_options(decoding_plugin=plugin)
    try:
        return ds.pixel_array
    except Exception as error:  # noqa: BLE001 - any decoder failure is a bad input file
        reasons = " ".join(str(error).split())  # pydicom lists each decoder on its own line
        raise InputFileError(path, f"undecodable pixel data ({reasons})") from error
