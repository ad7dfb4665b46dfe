"""``training.png``: training loss and validation AP@0.5 per epoch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dynbus.io.atomic import atomic_path

from .engine import LOSS_PARTS


def plot_training(metrics: pd.DataFrame, path: str | Path) -> None:
    """Plot loss parts (left axis) and val AP@0.5 (right axis) against epoch, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, loss_axis = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for column in ["loss", *LOSS_PARTS]:
        style = "-" if column == "loss" else ":"
        loss_axis.plot(metrics["epoch"], metrics[column], style, marker=".", label=column)
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss (mean per image)")
    ap_axis = loss_axis.twinx()
    ap_axis.plot(metrics["epoch"], metrics["val_ap50"], "k-", marker="o", label="val AP@0.5")
    ap_axis.set_ylabel("validation AP@0.5")
    ap_axis.set_ylim(0.0, 1.0)
    handles = loss_axis.get_legend_handles_labels()
    more = ap_axis.get_legend_handles_labels()
    loss_axis.legend(handles[0] + more[0], handles[1] + more[1], fontsize="small", loc="right")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
