"""Data ingestion: raw exports in, keyed pseudonyms and de-identified gray frames out.

Owns the raw side of the study: listing the raw sequences (``manifest``; other export formats in
``sources``), the keyed pseudonyms and the private linkage (``pseudonyms``, ``linkage``), the box
annotations re-keyed to pseudonyms (``annotations``), and the data stage that runs
de-identification (:mod:`dynbus.deid`) and frame splitting (``frames``, ``phash``) for many
sequences per process (``prepare``, ``collect_prepared``). Imports only :mod:`dynbus.deid`, the
shared I/O in :mod:`dynbus.io` and the top-level ``config``, ``errors``, ``batch``,
``exactmath``.
"""
