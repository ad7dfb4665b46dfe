"""The field's video-detection metrics and the fusion ablation, beside the paper's protocol.

Frame AP, recall at 16 FPs, FP chains and FPs per minute (``video_metrics``, ``frame_ap``,
``fp_chains``, on the sequences of ``videos``) as CVA-Net and UltraDet define them, and the
multi-frame fusion variants (``ablation``: ``seqnms``, ``tracking``). Builds on
:mod:`dynbus.protocol` (inputs, fusion, matching, statistics); nothing imports this package but
the reporting layer.
"""
