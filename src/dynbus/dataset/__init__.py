"""The study's dataset: the leakage check across sequences and the patient-disjoint split.

``duplicates`` (with ``crop_match``) finds near-duplicate frames between sequences from the
frames' perceptual hashes; ``split`` assigns patients to train / val / test (or k folds). Reads
what :mod:`dynbus.ingest` wrote; nothing here imports torch.
"""
