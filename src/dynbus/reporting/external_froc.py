"""``dynbus external-froc``: development and external FROC curves on one figure.

For one hit IoU, each method's (single-, multi-frame) curve on the development test split (the
package's ``development_froc.csv``, dashed) and on the external site (``froc.csv`` of ``dynbus
evaluate``, solid), and the external sensitivity and FP per sequence reached at the package's
frozen thresholds (crosses: from ``dynbus external-points``). Written to each ``--out`` file (the
format follows the suffix), like :mod:`dynbus.reporting.plots`. matplotlib, Agg.
"""

from __future__ import annotations

import argparse

import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.csv_input import read_csv_checked
from dynbus.reporting.plots import COLOURS, LABELS, curve, save_figure

CURVE_COLUMNS = ["method", "iou", "fp_per_sequence", "sensitivity"]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus external-froc``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--development", required=True, help="the package's development FROC")
    parser.add_argument("--external", required=True, help="froc.csv of the external evaluation")
    parser.add_argument("--points", required=True, help="operating_points.csv (external-points)")
    parser.add_argument("--iou", required=True, type=float, help="hit IoU of the figure")
    parser.add_argument("--out", required=True, nargs="+", help="figure files (.png, .pdf, .svg)")
    return parser


def plot_external_froc(  # noqa: ANN201
    development: pd.DataFrame, external: pd.DataFrame, points: pd.DataFrame, iou: float
):
    """The figure (a matplotlib Figure) for hit IoU ``iou``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.2), dpi=150)
    ax = fig.add_subplot()
    for method in ("single", "multi"):
        colour = COLOURS[method]
        dev = curve(development, method, iou).sort_values("fp_per_sequence")
        if len(dev):
            ax.step(
                dev["fp_per_sequence"], dev["sensitivity"], where="post", color=colour,
                linestyle="--", linewidth=1, label=f"{LABELS[method]}, development",
            )  # fmt: skip
        ext = curve(external, method, iou).sort_values("fp_per_sequence")
        ax.step(
            ext["fp_per_sequence"], ext["sensitivity"], where="post", color=colour,
            label=f"{LABELS[method]}, external",
        )  # fmt: skip
        frozen = curve(points, method, iou)
        ax.plot(frozen["fp_per_sequence"], frozen["sensitivity"], "x", color=colour, markersize=7)
    for rate in sorted(points["fp_rate"].unique()):
        ax.axvline(rate, color="0.8", linewidth=0.8, zorder=0)
    # the study's FROC range (its bands span twice the largest FP rate), crosses always inside
    right = max(2 * points["fp_rate"].max(), points["fp_per_sequence"].max())
    ax.set(
        xlabel="false positives per sequence",
        ylabel="sensitivity",
        ylim=(0, 1.08),
        xlim=(0, float(right)),
        title=f"FROC, development vs external, hit IoU ≥ {iou:g}",
    )
    ax.legend(loc="lower right", fontsize=7, title="x: frozen thresholds", title_fontsize=7)
    fig.tight_layout()
    return fig


def main(args: argparse.Namespace) -> None:
    """Write the figure of hit IoU ``args.iou`` to every ``args.out`` file."""
    development = read_csv_checked(args.development, CURVE_COLUMNS)
    external = read_csv_checked(args.external, CURVE_COLUMNS)
    points = read_csv_checked(args.points, ["method", "iou", "fp_rate", *CURVE_COLUMNS[2:]])
    for table, path in ((external, args.external), (points, args.points)):
        if not ((table["iou"] - args.iou).abs() < 1e-9).any():
            raise InputFileError(path, f"no rows at hit IoU {args.iou:g}")
    fig = plot_external_froc(development, external, points, args.iou)
    save_figure(fig, args.out)
