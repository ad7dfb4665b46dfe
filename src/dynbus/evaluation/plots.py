"""``dynbus plots``: FROC curves, single vs multi-frame, one figure per hit IoU.

Each figure shows both protocols' FROC curves (best sensitivity at each FP-per-sequence rate),
their patient-level bootstrap 95 % bands and the reported operating points (0.1 / 0.2 / 0.5 FP
per sequence), as ``froc_iou<iou>.png`` and ``.pdf``. matplotlib, Agg backend.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dynbus.atomic import atomic_dir
from dynbus.errors import InputFileError

COLOURS = {"single": "#1f77b4", "multi": "#d62728"}
LABELS = {"single": "single-frame", "multi": "multi-frame (fusion)"}


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus plots``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", required=True, help="output directory of dynbus evaluate")
    parser.add_argument("--out", required=True, help="output directory (replaced atomically)")
    return parser


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    if not path.is_file():
        raise InputFileError(path, "file not found (run dynbus evaluate first)")
    return pd.read_csv(path)


def plot_froc(bands: pd.DataFrame, counts: pd.DataFrame, iou: float, title: str):  # noqa: ANN201
    """One FROC figure (a matplotlib Figure) for hit IoU ``iou``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.2), dpi=150)
    ax = fig.add_subplot()
    for method in ("single", "multi"):
        band = bands[(bands["method"] == method) & ((bands["iou"] - iou).abs() < 1e-9)]
        colour = COLOURS[method]
        ax.fill_between(band["fp_per_sequence"], band["low"], band["high"], step="post",
                        color=colour, alpha=0.18, linewidth=0)
        ax.step(band["fp_per_sequence"], band["sensitivity"], where="post", color=colour,
                label=LABELS[method])
        points = counts[(counts["method"] == method) & ((counts["iou"] - iou).abs() < 1e-9)]
        ax.plot(points["fp_rate"], points["sensitivity"], "o", color=colour, markersize=5)
        for rate, sens in zip(points["fp_rate"], points["sensitivity"], strict=True):
            ax.annotate(f"{100 * sens:.1f}%", (rate, sens), textcoords="offset points",
                        xytext=(4, -12 if method == "single" else 5), fontsize=7, color=colour)
    for rate in sorted(counts["fp_rate"].unique()):
        ax.axvline(rate, color="0.8", linewidth=0.8, zorder=0)
    ax.set(xlabel="false positives per sequence", ylabel="sensitivity", ylim=(0, 1.08),
           xlim=(0, float(bands["fp_per_sequence"].max())), title=title)
    ax.legend(loc="lower right", fontsize=8, title="shaded: bootstrap 95% band", title_fontsize=7)
    fig.tight_layout()
    return fig


def main(args: argparse.Namespace) -> None:
    """Write ``froc_iou<iou>.{png,pdf}`` for every hit IoU of the evaluation."""
    folder = Path(args.eval)
    bands, counts = _read(folder, "froc_bands.csv"), _read(folder, "counts.csv")
    stats = _read(folder, "stats.csv")
    order = stats["fusion_order"].iloc[0] if len(stats) else "?"
    with atomic_dir(args.out) as out:
        for iou in sorted(counts["iou"].unique()):
            fig = plot_froc(bands, counts, iou, f"FROC, hit IoU ≥ {iou:g} (fusion: {order})")
            fig.savefig(out / f"froc_iou{iou:g}.png")
            fig.savefig(out / f"froc_iou{iou:g}.pdf", metadata={"CreationDate": None})
