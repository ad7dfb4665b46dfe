"""``dynbus plots``: FROC curves, single vs multi-frame, one figure per hit IoU.

Each figure shows both protocols' FROC curves (best sensitivity at each FP-per-sequence rate),
their patient-level bootstrap 95 % bands and the reported operating points (the evaluation's FP
rates), for one hit IoU, written to each ``--out`` file (the format follows the suffix: .png,
.pdf, .svg). With ``--fold-bands`` (k-fold cross-validation: the pooled curve of ``dynbus pool``,
which has no band), each fold's curve is drawn thin beside the pooled one. matplotlib, Agg.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_path

COLOURS = {"single": "#1f77b4", "multi": "#d62728"}
LABELS = {"single": "single-frame", "multi": "multi-frame (fusion)"}


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus plots``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", required=True, help="counts.csv of dynbus evaluate")
    parser.add_argument("--bands", required=True, help="froc_bands.csv of dynbus evaluate")
    parser.add_argument("--stats", required=True, help="stats.csv of dynbus evaluate")
    parser.add_argument("--iou", required=True, type=float, help="hit IoU of the figure")
    parser.add_argument(
        "--fold-bands",
        nargs="+",
        default=[],
        help="each fold's froc_bands.csv (drawn thin under the pooled curve of dynbus pool)",
    )
    parser.add_argument(
        "--out",
        required=True,
        nargs="+",
        help="figure files (format from the suffix: .png, .pdf, .svg)",
    )
    return parser


def _read(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise InputFileError(path, "file not found (run dynbus evaluate first)")
    return pd.read_csv(path)


def curve(table: pd.DataFrame, method: str, iou: float) -> pd.DataFrame:
    """The rows of one method's curve at hit IoU ``iou``."""
    return table[(table["method"] == method) & ((table["iou"] - iou).abs() < 1e-9)]


def plot_froc(  # noqa: ANN201
    bands: pd.DataFrame,
    counts: pd.DataFrame,
    iou: float,
    title: str,
    folds: list[pd.DataFrame] | None = None,
):
    """One FROC figure (a matplotlib Figure) for hit IoU ``iou``, with the ``folds``' curves."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.2), dpi=150)
    ax = fig.add_subplot()
    for method in ("single", "multi"):
        band = curve(bands, method, iou)
        colour = COLOURS[method]
        for fold in folds or []:
            part = curve(fold, method, iou)
            ax.step(
                part["fp_per_sequence"],
                part["sensitivity"],
                where="post",
                color=colour,
                alpha=0.45,
                linewidth=0.7,
            )
        ax.fill_between(
            band["fp_per_sequence"],
            band["low"],
            band["high"],
            step="post",
            color=colour,
            alpha=0.18,
            linewidth=0,
        )
        ax.step(
            band["fp_per_sequence"],
            band["sensitivity"],
            where="post",
            color=colour,
            label=LABELS[method],
        )
        points = curve(counts, method, iou)
        ax.plot(points["fp_rate"], points["sensitivity"], "o", color=colour, markersize=5)
        for rate, sens in zip(points["fp_rate"], points["sensitivity"], strict=True):
            ax.annotate(
                f"{100 * sens:.1f}%",
                (rate, sens),
                textcoords="offset points",
                xytext=(4, -12 if method == "single" else 5),
                fontsize=7,
                color=colour,
            )
    for rate in sorted(counts["fp_rate"].unique()):
        ax.axvline(rate, color="0.8", linewidth=0.8, zorder=0)
    ax.set(
        xlabel="false positives per sequence",
        ylabel="sensitivity",
        ylim=(0, 1.08),
        xlim=(0, float(bands["fp_per_sequence"].max())),
        title=title,
    )
    legend = "thin: each fold's curve" if folds else "shaded: bootstrap 95% band"
    ax.legend(loc="lower right", fontsize=8, title=legend, title_fontsize=7)
    fig.tight_layout()
    return fig


def save_figure(fig, targets: list[str]) -> None:  # noqa: ANN001
    """Write ``fig`` to every target (format from the suffix; a PDF without its creation date)."""
    for target in map(Path, targets):
        with atomic_path(target) as tmp:
            fig.savefig(
                tmp,
                format=target.suffix.lstrip(".") or None,
                metadata={"CreationDate": None} if target.suffix == ".pdf" else None,
            )


def main(args: argparse.Namespace) -> None:
    """Write the FROC figure of hit IoU ``args.iou`` to every ``args.out`` file."""
    bands, counts, stats = _read(args.bands), _read(args.counts), _read(args.stats)
    if not ((counts["iou"] - args.iou).abs() < 1e-9).any():
        raise InputFileError(args.counts, f"no rows at hit IoU {args.iou:g}")
    folds = [_read(path) for path in args.fold_bands]
    order = stats["fusion_order"].iloc[0] if len(stats) else "?"
    title = f"FROC, hit IoU ≥ {args.iou:g} (fusion: {order})"
    if folds:
        title = f"FROC, {len(folds)} folds pooled, hit IoU ≥ {args.iou:g} ({order})"
    fig = plot_froc(bands, counts, args.iou, title, folds)
    save_figure(fig, args.out)
