"""Fusion, evaluation, statistics and the paper's tables / plots / figures (DESIGN §2).

Nothing here imports torch; matplotlib is imported only by the plotting modules.

Tie-breaks, fixed so that the same inputs always give the same numbers:

- equal scores: detections are ordered by descending score, then frame, then box
  (``x1, y1, x2, y2``) (:func:`dynbus.evaluation.inputs.load_sequences`); matching and the
  numbering of fused groups keep that order;
- equal IoUs: a detection takes the lesion with the smallest ``lesion_id`` (string order)
  among the unmatched lesions it overlaps most (:func:`dynbus.evaluation.matching.greedy_match`);
- equal operating points: among thresholds within the FP budget, the most TPs, then the fewest
  FPs, then the highest threshold (:func:`dynbus.evaluation.sweep.operating_index`).
"""
