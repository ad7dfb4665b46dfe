"""Readers of non-DICOM inputs, side by side, each ending in the DICOM path's contract.

Every reader (``cocovid``, ``video``, ``cvat``) turns its format into a
:class:`~dynbus.ingest.sources.common.Scan`: the sequences found (raw-relative name, patient
key, size, how to decode the frames) plus box rows in the raw annotation layout of
``dynbus annotations`` (``file, frame, lesion_id, x1, y1, x2, y2``). ``dynbus import``
turns a scan into the private and public manifests; ``dynbus import-frames`` writes one
sequence's cleaned PNG frames + meta.json.
"""
