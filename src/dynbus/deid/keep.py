"""The keep-list: public attributes outside Table E.1-1 known to be safe and kept.

Table E.1-1 lists what is known to identify; everything it does not list is kept by the standard's
profile, which lets through attributes the table has no row for (an unknown public tag, overlay
labels, a top-level TextValue). Here only the table's attributes (handled by their action) and
the ones below survive: what an ultrasound cine needs to be read, shown, measured and traced as
de-identified. Every other public attribute is removed, and the audit says so.
"""

from __future__ import annotations

from functools import cache

from pydicom.datadict import tag_for_keyword

KEEP_KEYWORDS = (
    # SOP common, general series / image
    "SpecificCharacterSet", "ImageType", "SOPClassUID", "SOPInstanceUID", "Modality",
    "SeriesNumber", "InstanceNumber", "AcquisitionNumber", "Laterality", "ImageLaterality",
    "PatientOrientation", "BodyPartExamined", "Manufacturer", "ManufacturerModelName",
    "ConversionType",
    # image pixel, palette colour, VOI / modality LUT, lossy compression
    "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration", "Rows", "Columns",
    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PixelAspectRatio",
    "SmallestImagePixelValue", "LargestImagePixelValue", "PixelData",
    "RedPaletteColorLookupTableDescriptor", "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor", "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData", "BluePaletteColorLookupTableData",
    "WindowCenter", "WindowWidth", "VOILUTFunction", "RescaleIntercept", "RescaleSlope",
    "RescaleType", "LossyImageCompression", "LossyImageCompressionRatio",
    "LossyImageCompressionMethod",
    # multi-frame and cine
    "NumberOfFrames", "FrameIncrementPointer", "FrameTime", "FrameTimeVector", "FrameDelay",
    "ActualFrameDuration", "CineRate", "RecommendedDisplayFrameRate", "StartTrim", "StopTrim",
    "PreferredPlaybackSequencing",
    # ultrasound regions (calibration of the kept image area)
    "SequenceOfUltrasoundRegions", "RegionSpatialFormat", "RegionDataType", "RegionFlags",
    "RegionLocationMinX0", "RegionLocationMinY0", "RegionLocationMaxX1", "RegionLocationMaxY1",
    "ReferencePixelX0", "ReferencePixelY0", "PhysicalUnitsXDirection", "PhysicalUnitsYDirection",
    "ReferencePixelPhysicalValueX", "ReferencePixelPhysicalValueY", "PhysicalDeltaX",
    "PhysicalDeltaY", "TransducerFrequency", "PulseRepetitionFrequency",
    "DopplerCorrectionAngle", "SteeringAngle",
    # references (their UIDs are pseudonymised) and code items
    "ReferencedSOPClassUID", "ReferencedFrameNumber",
    "CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning",
    # what de-identification itself writes
    "PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence",
    "LongitudinalTemporalInformationModified", "BurnedInAnnotation",
    "RecognizableVisualFeatures",
)  # fmt: skip


@cache
def keep_tags() -> frozenset[int]:
    """The tags of :data:`KEEP_KEYWORDS`."""
    tags = {tag_for_keyword(keyword) for keyword in KEEP_KEYWORDS}
    if None in tags:
        raise ValueError("KEEP_KEYWORDS holds a keyword pydicom does not know")
    return frozenset(tag for tag in tags if tag is not None)
