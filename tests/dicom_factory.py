"""Tiny ultrasound DICOM files for tests, in any transfer syntax / photometric interpretation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image, ImageDraw, ImageFont
from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.pixels import convert_color_space
from pydicom.tag import Tag
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

REGION = (10, 8, 53, 39)  # x0, y0, x1, y1 (inclusive) inside a 48 x 64 frame


def pattern(frames: int, rows: int, columns: int, samples: int, high: int, seed: int) -> np.ndarray:
    """Smooth gradients + noise in ``0..high``, shape (frames, rows, columns[, samples])."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns]
    base = (x / columns + y / rows) / 2
    shape = (frames, rows, columns, samples)
    noise = rng.uniform(-0.15, 0.15, size=shape)
    shift = (
        np.linspace(0, 0.3, samples)[None, None, None, :]
        + np.arange(frames)[:, None, None, None] * 0.05
    )
    arr = np.clip((base[None, :, :, None] + shift) % 1.0 + noise, 0, 1) * high
    dtype = np.uint8 if high < 256 else np.uint16
    out = np.rint(arr).astype(dtype)
    return out if samples > 1 else out[..., 0]


def burn_text(frames: np.ndarray, text: str, xy: tuple[int, int], size: int = 12) -> np.ndarray:
    """Draw ``text`` white at ``xy`` into every (gray uint8) frame, as a scanner burns a label."""
    ink = Image.new("L", frames.shape[2:0:-1])
    ImageDraw.Draw(ink).text(xy, text, fill=255, font=ImageFont.load_default(size=size))
    mask = np.asarray(ink)
    frames[:, mask > 0] = mask[mask > 0]
    return frames


def regions_item(box: Sequence[int]) -> Dataset:
    """One SequenceOfUltrasoundRegions item covering ``box``."""
    item = Dataset()
    item.RegionSpatialFormat = 1
    item.RegionDataType = 1
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = int(box[0]), int(box[1])
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = int(box[2]), int(box[3])
    return item


def make_us(
    pixels: np.ndarray,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    regions: Sequence[Sequence[int]] | None = (REGION,),
    patient_id: str = "PAT-0001",
    study_uid: str | None = None,
    series_uid: str | None = None,
    multiframe: bool = True,
) -> Dataset:
    """An uncompressed ultrasound dataset holding ``pixels`` (frames first when multi-frame)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "US"
    ds.PatientID = patient_id
    ds.PatientName = "Doe^Jane"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyDate = "20210304"
    ds.InstanceNumber = 1
    ds.FrameTime = "40.0"
    if regions:
        ds.SequenceOfUltrasoundRegions = [regions_item(box) for box in regions]
    bits = bits_stored or (8 if pixels.dtype == np.uint8 else 12)
    ds.set_pixel_data(pixels, photometric, bits, generate_instance_uid=False)
    if not multiframe:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    return ds


def to_jpeg_baseline(ds: Dataset, quality: int = 95, offset_table: bool = True) -> Dataset:
    """Re-encode an 8-bit RGB (-> YBR_FULL_422) or MONOCHROME2 dataset as JPEG Baseline.

    ``offset_table=False`` leaves the Basic Offset Table empty (one fragment per frame).
    """
    arr = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns, ds.SamplesPerPixel)
    if ds.SamplesPerPixel == 3:
        frames = [
            simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality, "RGB", "422") for f in arr
        ]
        ds.PhotometricInterpretation = "YBR_FULL_422"
    else:
        frames = [simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality, "GRAY") for f in arr]
    ds.PixelData = encapsulate(frames, has_bot=offset_table)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.LossyImageCompression = "01"
    return ds


def to_ybr_full(ds: Dataset) -> Dataset:
    """Store an uncompressed RGB dataset as uncompressed YBR_FULL."""
    ybr = convert_color_space(ds.pixel_array, "RGB", "YBR_FULL")
    ds.PixelData = np.ascontiguousarray(ybr).tobytes()
    ds.PhotometricInterpretation = "YBR_FULL"
    return ds


def with_palette(ds: Dataset, lut: np.ndarray) -> Dataset:
    """Mark an 8-bit single-sample dataset as PALETTE COLOR with a (256, 3) uint16 ``lut``."""
    ds.PhotometricInterpretation = "PALETTE COLOR"
    for index, colour in enumerate(("Red", "Green", "Blue")):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", lut[:, index].astype("<u2").tobytes())
    return ds


def set_invalid(ds: Dataset, keyword: str, text: str) -> Dataset:
    """Store ``text`` as the value of ``keyword`` even where its VR forbids it (e.g. IS 'abc')."""
    tag = Tag(tag_for_keyword(keyword))
    value = (text + " " * (len(text) % 2)).encode("ascii")
    ds[tag] = RawDataElement(tag, dictionary_VR(keyword), len(value), value, 0, False, True)
    return ds


def to_big_endian(ds: Dataset) -> Dataset:
    """Mark an uncompressed dataset Explicit VR Big Endian, its pixel values stored big-endian
    (:func:`save` re-encodes the other elements as it writes)."""
    values = ds.pixel_array
    ds.PixelData = values.astype(values.dtype.newbyteorder(">")).tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    return ds


def save(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM file (with preamble) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with config.disable_value_validation():
        if ds.file_meta.get("TransferSyntaxUID") == ExplicitVRBigEndian:
            ds.preamble = bytes(128)
            dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)
        else:
            ds.save_as(path, enforce_file_format=True)
    return path
