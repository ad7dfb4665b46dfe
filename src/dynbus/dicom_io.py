"""Read one DICOM file and check that a cine stage can use it (shared by manifest, deid, frames).

Every problem a user can fix is an ``InputFileError(path, problem)``: the file is missing,
truncated, not DICOM, not ultrasound, has no pixel data or no PatientID, or its transfer syntax
has no installed decoder.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder

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
TRUNCATED = "truncated DICOM file (ends inside the pixel data)"


def _read(path: str | Path, defer_size: str | None = None) -> Dataset:
    """``pydicom.dcmread`` with every read failure turned into an ``InputFileError``."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path, defer_size=defer_size)
    except FileNotFoundError as error:
        raise InputFileError(path, "file not found") from error
    except InvalidDicomError as error:
        raise InputFileError(path, "not a DICOM file (no 'DICM' file preamble)") from error
    except (OSError, EOFError, ValueError, KeyError, TypeError) as error:
        raise InputFileError(path, f"unreadable or truncated DICOM file ({error})") from error
    if any("End of file reached" in str(w.message) for w in caught):
        raise InputFileError(path, TRUNCATED)
    return ds


def read_dicom(path: str | Path) -> Dataset:
    """Read ``path`` completely and check it (see :func:`check_dataset`); return the dataset."""
    ds = _read(path)
    check_dataset(ds, path)
    return ds


def read_header(path: str | Path) -> Dataset:
    """Read and check ``path`` without loading its pixel data (deferred): to list a study.

    Truncation is judged from the file size: native pixel data must be as long as announced,
    encapsulated pixel data must end the file with its Sequence Delimitation Item.
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


def check_dataset(ds: Dataset, path: str | Path) -> None:
    """Raise ``InputFileError`` unless ``ds`` is a decodable ultrasound image with a PatientID."""
    modality = str(ds.get("Modality", "") or "")
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if modality != "US" and sop_class not in ULTRASOUND_SOP_CLASSES:
        raise InputFileError(path, f"not an ultrasound image (Modality {modality or 'missing'!r})")
    if not str(ds.get("PatientID", "") or "").strip():
        raise InputFileError(path, "no PatientID: cannot assign a patient pseudonym")
    if not str(ds.get("SOPInstanceUID", "") or "").strip():
        raise InputFileError(path, "no SOPInstanceUID")
    present = _pixel_data_size(ds, path) if "PixelData" in ds else 0
    if present == 0:
        raise InputFileError(path, "no Pixel Data (not an image, or the file is truncated)")
    for keyword in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel"):
        if keyword not in ds:
            raise InputFileError(path, f"no {keyword}: cannot interpret the pixel data")
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
        expected = expected_native_length(ds)
        if present < expected:
            raise InputFileError(path, f"truncated pixel data ({present} of {expected} bytes)")


def number_of_frames(ds: Dataset) -> int:
    """NumberOfFrames, 1 when absent or empty."""
    value = ds.get("NumberOfFrames")
    return int(value) if value not in (None, "") else 1


def expected_native_length(ds: Dataset) -> int:
    """Bytes of uncompressed pixel data the header announces."""
    pixels = ds.Rows * ds.Columns * ds.SamplesPerPixel * number_of_frames(ds)
    if ds.BitsAllocated == 1:
        return (pixels + 7) // 8
    if ds.get("PhotometricInterpretation") == "YBR_FULL_422":
        pixels = pixels // 3 * 2
    return pixels * (ds.BitsAllocated // 8)
