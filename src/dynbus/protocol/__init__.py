"""The paper's evaluation protocol (DESIGN §2): fusion, matching, FROC sweep, statistics.

``evaluate`` reads the detections (``inputs``, ``boxes``), fuses them across frames (``fusion``),
matches them to lesions (``matching``), sweeps the score threshold to the FP/sequence operating
points (``sweep``, ``single_frame``) and tests single against multi-frame (``stats``); ``pooling``
pools k folds; ``subgroups`` breaks the sensitivities down by lesion size, scanner and frame
rate. Nothing here imports torch or matplotlib.

Tie-breaks, fixed so that the same inputs always give the same numbers:

- equal scores: detections are ordered by descending score, then frame, then box
  (``x1, y1, x2, y2``) (:func:`dynbus.protocol.inputs.load_sequences`); matching and the
  numbering of fused groups keep that order;
- equal IoUs: a detection takes the lesion with the smallest ``lesion_id`` (string order)
  among the unmatched lesions it overlaps most (:func:`dynbus.protocol.matching.greedy_match`);
- equal operating points: among thresholds within the FP budget, the most TPs, then the fewest
  FPs, then the highest threshold (:func:`dynbus.protocol.sweep.operating_index`).
"""
