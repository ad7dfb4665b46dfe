"""Shared file I/O: atomic writes, strict CSV reading, PNG, DICOM and HTML-table helpers.

Every stage writes through ``atomic`` (temp file and rename) and reads its CSV inputs through
``csv_input``; ``dicom_io`` reads raw DICOM for ingestion and the simulator; ``png_io`` and
``html_table`` are the frame and report formats. Imports nothing else from dynbus but ``errors``.
"""
