"""De-identify one dataset: clean pixels, apply Table E.1-1, mark the result as de-identified."""

from __future__ import annotations

from functools import partial
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from dynbus import __version__
from dynbus.deid.audit import Audit
from dynbus.deid.burned_text import OCR_OFF, check_burned_text
from dynbus.deid.pixels import (
    blank,
    decoded_frames,
    kept_boxes,
    region_mask,
    store_frames,
)
from dynbus.deid.profile import TABLE_VERSION, Profile
from dynbus.deid.pseudonyms import date_shift_days, patient_pseudonym, uid_pseudonym
from dynbus.errors import DynbusError

# CID 7050 De-identification Methods
BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
CLEAN_PIXELS = ("113101", "Clean Pixel Data Option")
MODIFIED_DATES = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")


def deidentify_dataset(ds: Dataset, key: bytes, config: dict[str, Any], audit: Audit) -> None:
    """De-identify ``ds`` in place with keyed pseudonyms; record every change in ``audit``.

    ``config`` is the ``deid`` section (``dates``, ``max_date_shift_days``, ``fallback_box``,
    ``burned_in_text``, ``ocr``). The caller has checked the file
    (``dynbus.io.dicom_io.check_dataset``). Raises ``DynbusError`` when burned-in text is found
    and ``burned_in_text`` is ``error``.
    """
    raw_patient = str(ds.PatientID).strip()
    shift = config["dates"] == "shift"
    max_days = config["max_date_shift_days"]
    audit.pixels, text_checked = clean_pixels(ds, config)

    profile = Profile(
        uid=partial(uid_pseudonym, key),
        patient=patient_pseudonym(key, raw_patient),
        shift_days=date_shift_days(key, raw_patient, max_days) if shift else None,
        audit=audit,
    )
    profile.apply(ds)

    methods = [BASIC_PROFILE, CLEAN_PIXELS] + ([MODIFIED_DATES] if shift else [])
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = [f"dynbus {__version__}", f"PS3.15 E.1-1 ({TABLE_VERSION})"] + [
        meaning for _, meaning in methods[1:]
    ]
    ds.DeidentificationMethodCodeSequence = Sequence([_code(*method) for method in methods])
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if shift else "REMOVED"
    ds.BurnedInAnnotation = "NO" if text_checked else "YES"
    ds.file_meta = _file_meta(ds)
    ds.preamble = bytes(128)


def clean_pixels(ds: Dataset, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Blank outside the kept area, then find burned-in text inside it (``burned_in_text``).

    Returns the audit record of the pixel step and whether the text check was done (and its
    findings blanked): only then is the result free of burned-in annotation.
    """
    boxes, source = kept_boxes(ds, config.get("fallback_box"))
    kept = region_mask(boxes, ds.Rows, ds.Columns)
    frames = decoded_frames(ds)
    blank(ds, frames, ~kept)
    record: dict[str, Any] = {"action": "blanked outside regions", "regions": boxes,
                              "source": source}  # fmt: skip
    mode = config.get("burned_in_text", "blank") or "off"  # YAML reads a bare off as false
    if mode == "off":
        record["burned_in_text"] = {"mode": mode, "checked": False}
        store_frames(ds, frames)
        return record, False
    invert = ds.PhotometricInterpretation == "MONOCHROME1"
    full_scale = (1 << int(ds.BitsStored)) - 1
    check = check_burned_text(frames, kept, full_scale, invert, bool(config.get("ocr", True)))
    if mode == "error" and check.text:
        what = "static overlay (OCR not run)" if check.ocr == OCR_OFF else "text"
        raise DynbusError(
            f"burned-in {what} inside the kept image area at {list(check.text[0])} "
            f"({len(check.text)} area(s)); set deid.burned_in_text: blank to blank it"
        )
    blank(ds, frames, region_mask(check.blank, ds.Rows, ds.Columns))
    record["burned_in_text"] = {"mode": mode, **check.as_dict(),
                                "blanked": [list(box) for box in check.blank]}  # fmt: skip
    store_frames(ds, frames)
    return record, check.checked


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _file_meta(ds: Dataset) -> FileMetaDataset:
    """Fresh file meta: no source AE title or implementation of the modality survives."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta
