"""Synthetic breast-ultrasound cine study: tissue, masses, mimics, speckle, PHI, real DICOM."""
