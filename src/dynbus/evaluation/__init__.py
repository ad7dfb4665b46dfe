"""Fusion, evaluation, statistics and the paper's tables / plots / figures (DESIGN §2).

Nothing here imports torch; matplotlib is imported only by the plotting modules.
"""
