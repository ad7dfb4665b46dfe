"""Faster R-CNN mass detector: dataset, model factory, training engine, ``train`` and ``infer``.

Only the torch stages import this package; the data stages never pay for torch.
"""
