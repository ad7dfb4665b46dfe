"""Synthetic breast-ultrasound cine study: tissue, masses, mimics, speckle, PHI, real DICOM.

The demo's raw data: ``study`` draws patients and sequences, ``anatomy``, ``lesions``, ``speckle``
and ``scanner`` render each frame with the CPU-independent arithmetic of :mod:`dynbus.exactmath`,
``phi`` plants the identifying values the de-identification must remove, and ``dicom_writer``
writes real multi-frame ultrasound DICOM plus the box annotations. Used only by ``dynbus simulate``.
"""
