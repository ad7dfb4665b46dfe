"""Rendering: the paper's tables, FROC plots, qualitative figures, overlay videos, headline.

Turns the evaluation's CSVs into what a reader looks at (``tables``, ``plots``, ``figures``,
``forest`` for the subgroups, ``drawing``, ``overlays`` with ``video_writer``, and the report's
opening, ``headline``).
Computes no statistic of its own: the numbers come from :mod:`dynbus.protocol` and
:mod:`dynbus.metrics`; matplotlib is imported only here.
"""
