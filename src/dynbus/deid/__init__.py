"""De-identification of ultrasound DICOM: PS3.15 E.1-1 header profile + Clean Pixel Data."""
