"""Collect the identifying values a raw study carries, and find them in outputs."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom

MIN_LENGTH = 5
MIN_DIGITS = 8
IDENTIFYING = [
    "PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs", "InstitutionName",
    "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName",
    "OperatorsName", "AccessionNumber", "StudyID", "StudyDate", "SeriesDate", "AcquisitionDate",
    "ContentDate", "StudyTime", "StationName", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID",
]  # fmt: skip


def _pieces(value: object) -> set[str]:
    """The value and its words, long enough not to occur by chance (digits: >= 8)."""
    text = str(value)
    parts = {text, *text.replace("^", " ").replace(",", " ").split()}
    return {
        part
        for part in parts
        if len(part) >= (MIN_DIGITS if part.replace(".", "").isdigit() else MIN_LENGTH)
    }


def phi_values_of_raw_study(raw_dir: Path) -> set[str]:
    """Identifying header values, private-tag strings and raw path parts of a raw folder."""
    values: set[str] = set()
    for path in raw_dir.rglob("*.dcm"):
        values |= _pieces(path.parent.name) | _pieces(path.stem)
        header = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in IDENTIFYING:
            if keyword in header and header.data_element(keyword).value not in (None, ""):
                element = header.data_element(keyword)
                items = element.value if element.VM > 1 else [element.value]
                for item in items:
                    values |= _pieces(item)
        for element in header.iterall():
            if element.tag.is_private and isinstance(element.value, str):
                values |= _pieces(element.value)
    return values


def searchable_bytes(path: Path) -> bytes:
    """A file's bytes; for DICOM, every element but the pixel data.

    Uncompressed 8-bit pixels are full of byte runs that spell upper-case words by chance, so
    the pixel data are checked by the de-identification tests (pixels outside the US regions
    zero, inside unchanged), not by a text search.
    """
    if path.suffix != ".dcm":
        return path.read_bytes()
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def phi_found_under(root: Path, folders: list[str], values: set[str]) -> list[tuple[str, str]]:
    """(relative path, value) for every PHI value found in the names or contents under root."""
    found = []
    for folder in folders:
        for path in (root / folder).rglob("*"):
            relative = path.relative_to(root).as_posix()
            found += [(relative, v) for v in values if v.lower() in relative.lower()]
            if path.is_file():
                content = searchable_bytes(path)
                found += [(relative, v) for v in values if v.encode() in content]
    return found
