"""De-identify one dataset: clean pixels, apply Table E.1-1, mark the result as de-identified."""

from __future__ import annotations

from functools import partial
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from dynbus import __version__
from dynbus.deid.audit import Audit
from dynbus.deid.pixels import clean_pixel_data
from dynbus.deid.profile import TABLE_VERSION, Profile
from dynbus.pseudonyms import date_shift_days, patient_pseudonym, uid_pseudonym

# CID 7050 De-identification Methods
BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
CLEAN_PIXELS = ("113101", "Clean Pixel Data Option")
MODIFIED_DATES = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")


def deidentify_dataset(ds: Dataset, key: bytes, config: dict[str, Any], audit: Audit) -> None:
    """De-identify ``ds`` in place with keyed pseudonyms; record every change in ``audit``.

    ``config`` is the ``deid`` section (``dates``, ``max_date_shift_days``, ``fallback_box``).
    The caller has checked the file (``dynbus.dicom_io.check_dataset``).
    """
    raw_patient = str(ds.PatientID).strip()
    shift = config["dates"] == "shift"
    max_days = config["max_date_shift_days"]
    boxes, source = clean_pixel_data(ds, config.get("fallback_box"))
    audit.pixels = {"action": "blanked outside regions", "regions": boxes, "source": source}

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
    ds.BurnedInAnnotation = "NO"
    ds.file_meta = _file_meta(ds)


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
