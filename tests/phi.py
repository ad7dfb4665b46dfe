"""Collect the identifying values a raw study carries, to search for them in outputs."""

from __future__ import annotations

from pathlib import Path

import pydicom

MIN_LENGTH = 5
IDENTIFYING = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "OtherPatientIDs",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "StudyTime",
    "StationName",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
]


def _pieces(value: object) -> set[str]:
    text = str(value)
    parts = {text, *text.replace("^", " ").split()}
    return {part for part in parts if len(part) >= MIN_LENGTH}


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
