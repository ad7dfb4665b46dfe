"""dynbus: mass detection in dynamic (cine) breast ultrasound, from raw DICOM to the tables."""

__version__ = "0.7.0"
