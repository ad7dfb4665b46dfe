"""Write one cine loop as a real DICOM Ultrasound Multi-frame Image, as a scanner exports it.

Transfer syntaxes: JPEG Baseline (frames encoded with simplejpeg, encapsulated with
``pydicom.encaps``), Explicit VR Little Endian, RLE Lossless and JPEG-LS Lossless (pydicom's
encoders). The header carries the fake identity everywhere a real export does, plus a private
block with PHI. UIDs and times derive from the run's seed, so files are byte-reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import simplejpeg
from pydicom import Dataset, FileMetaDataset, dcmwrite
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from dynbus.io.atomic import atomic_path
from dynbus.simulate.phi import Identity
from dynbus.simulate.scanner import Layout

# name -> (transfer syntax, photometric interpretation of the stored pixels, colour frames)
ENCODINGS: dict[str, tuple[str, str, bool]] = {
    "jpeg_ybr": (JPEGBaseline8Bit, "YBR_FULL_422", True),
    "jpeg_gray": (JPEGBaseline8Bit, "MONOCHROME2", False),
    "explicit_gray": (ExplicitVRLittleEndian, "MONOCHROME2", False),
    "explicit_rgb": (ExplicitVRLittleEndian, "RGB", True),
    "rle_rgb": (RLELossless, "RGB", True),
    "jpegls_gray": (JPEGLSLossless, "MONOCHROME2", False),
}
PRIVATE_CREATOR = "SONOSIM PATIENT INFO"


@dataclass(frozen=True)
class Series:
    """What the scanner knows about one recorded sweep."""

    number: int
    description: str  # e.g. "L BREAST 2:00 RAD"
    comment: str  # sonographer's free text (may hold PHI)
    frame_time_ms: float
    acquired: datetime
    probe_mhz: float


def uid(seed: int, *parts: object) -> str:
    """A UID derived from the run's seed and ``parts`` (deterministic, unique per input)."""
    return generate_uid(entropy_srcs=["dynbus-simulate", str(seed), *map(str, parts)])


def _regions(layout: Layout, probe_mhz: float) -> Dataset:
    x0, y0, x1, y1 = layout.region
    height, width = layout.image_shape
    cm_per_px = layout.depth_cm / height
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2-D tissue image
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0 = x0
    region.RegionLocationMinY0 = y0
    region.RegionLocationMaxX1 = x1 - 1  # inclusive corner (PS3.3 C.8.5.5)
    region.RegionLocationMaxY1 = y1 - 1
    region.PhysicalUnitsXDirection = 3  # cm
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = round(cm_per_px, 6)
    region.PhysicalDeltaY = round(cm_per_px, 6)
    region.ReferencePixelX0 = width // 2
    region.ReferencePixelY0 = 0
    region.TransducerFrequency = int(probe_mhz * 1000)
    return region


def _header(
    identity: Identity, series: Series, layout: Layout, n_frames: int, seed: int, encoding: str
) -> Dataset:
    syntax, photometric, colour = ENCODINGS[encoding]
    study_uid = uid(seed, identity.patient_id, "study")
    instance_uid = uid(seed, identity.patient_id, series.number, "instance")
    created = series.acquired + timedelta(seconds=n_frames * series.frame_time_ms / 1000 + 2)

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = instance_uid
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SpecificCharacterSet = identity.character_set
    ds.ImageType = ["ORIGINAL", "PRIMARY", "", "0001"]
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID = instance_uid
    ds.InstanceCreationDate = f"{created:%Y%m%d}"
    ds.InstanceCreationTime = f"{created:%H%M%S}"
    ds.StudyDate = f"{identity.study_time:%Y%m%d}"
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = f"{series.acquired:%Y%m%d}"
    ds.StudyTime = f"{identity.study_time:%H%M%S}"
    ds.SeriesTime = ds.AcquisitionTime = f"{series.acquired:%H%M%S}"
    ds.ContentTime = f"{created:%H%M%S}"
    ds.AcquisitionDateTime = f"{series.acquired:%Y%m%d%H%M%S}"
    ds.AccessionNumber = identity.accession
    ds.Modality = "US"
    ds.Manufacturer = "SonoSim Medical"
    ds.InstitutionName = identity.institution
    ds.InstitutionAddress = identity.institution_address
    ds.ReferringPhysicianName = identity.referring
    ds.StationName = identity.station
    ds.StudyDescription = "US BREAST BILATERAL"
    ds.SeriesDescription = series.description
    ds.InstitutionalDepartmentName = identity.department
    ds.PerformingPhysicianName = identity.performing
    ds.OperatorsName = identity.operator
    ds.ManufacturerModelName = "SonoSim L12"
    ds.PatientName = identity.name
    ds.PatientID = identity.patient_id
    ds.IssuerOfPatientID = identity.institution
    ds.PatientBirthDate = f"{identity.birth_date:%Y%m%d}"
    ds.PatientSex = identity.sex
    ds.OtherPatientIDs = identity.other_id
    ds.PatientAge = identity.age
    ds.PatientAddress = identity.address
    ds.PatientTelephoneNumbers = identity.phone
    ds.DeviceSerialNumber = identity.serial
    ds.SoftwareVersions = "4.2.1"
    ds.FrameTime = f"{series.frame_time_ms:.3f}"
    ds.CineRate = round(1000 / series.frame_time_ms)
    ds.RecommendedDisplayFrameRate = round(1000 / series.frame_time_ms)
    ds.TransducerData = [f"L12-5 {series.probe_mhz:g}MHz"]
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = uid(seed, identity.patient_id, series.number, "series")
    ds.StudyID = identity.accession[-6:]
    ds.SeriesNumber = series.number
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = uid(seed, identity.patient_id, series.number, "frame-of-reference")
    ds.Laterality = series.description[0]
    ds.ImageComments = series.comment
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    if colour:
        ds.PlanarConfiguration = 0
    ds.NumberOfFrames = n_frames
    ds.FrameIncrementPointer = 0x00181063  # FrameTime
    ds.Rows, ds.Columns = layout.rows, layout.columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.SequenceOfUltrasoundRegions = [_regions(layout, series.probe_mhz)]
    ds.PerformedProcedureStepStartDate = ds.StudyDate
    ds.RequestingPhysician = identity.referring
    block = ds.private_block(0x0029, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", identity.name)
    block.add_new(0x02, "LO", identity.patient_id)
    block.add_new(0x03, "DA", ds.PatientBirthDate)
    block.add_new(
        0x04,
        "LT",
        f"Exam of {identity.ascii_name} ({identity.patient_id}) referred by {identity.referring}",
    )
    return ds


def write_cine(
    path: str | Path,
    frames: np.ndarray,
    identity: Identity,
    series: Series,
    layout: Layout,
    seed: int,
    encoding: str,
) -> None:
    """Write ``frames`` ((T, R, C) gray or (T, R, C, 3) RGB uint8) as one DICOM file, atomically."""
    syntax, _, colour = ENCODINGS[encoding]
    if colour != (frames.ndim == 4):
        raise ValueError(f"{encoding} needs {'RGB' if colour else 'gray'} frames")
    ds = _header(identity, series, layout, len(frames), seed, encoding)
    if syntax == JPEGBaseline8Bit:
        quality = 80 + (series.number * 7) % 15
        if colour:
            encoded = [
                simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality, "RGB", "422")
                for f in frames
            ]
        else:
            encoded = [
                simplejpeg.encode_jpeg(np.ascontiguousarray(f[..., None]), quality, "GRAY")
                for f in frames
            ]
        ds.PixelData = encapsulate(encoded)
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = f"{frames.nbytes / sum(map(len, encoded)):.2f}"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
    elif syntax == ExplicitVRLittleEndian:
        ds.PixelData = np.ascontiguousarray(frames).tobytes()
        ds["PixelData"].VR = "OB"
    else:
        ds.compress(syntax, np.ascontiguousarray(frames), generate_instance_uid=False)
    with atomic_path(path) as tmp:
        dcmwrite(tmp, ds, enforce_file_format=True)
