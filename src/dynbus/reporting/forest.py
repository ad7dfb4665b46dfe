"""``dynbus forest``: the multi-frame gain per subgroup as a forest plot, and the subgroup table.

Reads ``subgroups.csv`` and ``heterogeneity.csv`` of ``dynbus subgroups``. The figure (one hit
IoU and FP rate) has one line per subgroup: the gain in sensitivity (multi - single, percentage
points) with Newcombe's 95 % CI, the lesion count and both sensitivities at the right, and under
each grouping's name the P of its test of equal gain across subgroups. Empty subgroups are listed
without an estimate. ``--table`` writes every operating point's rows as one HTML page (Wilson CIs,
exact McNemar P, what "other" pooled). matplotlib, Agg.
"""

from __future__ import annotations

import argparse
import html
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_open, atomic_path
from dynbus.io.csv_input import read_csv_checked
from dynbus.io.html_table import table_fragment

SUBGROUP_COLUMNS = [
    "grouping", "subgroup", "pooled", "iou", "fp_rate", "n_lesions",
    "single_tp", "single_sensitivity", "single_wilson_low", "single_wilson_high",
    "multi_tp", "multi_sensitivity", "multi_wilson_low", "multi_wilson_high",
    "difference", "difference_low", "difference_high", "single_only", "multi_only", "mcnemar_p",
]  # fmt: skip
TEST_COLUMNS = ["grouping", "iou", "fp_rate", "n_informative", "chi2", "df", "p"]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus forest``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subgroups", required=True, help="subgroups.csv of dynbus subgroups")
    parser.add_argument("--heterogeneity", required=True, help="heterogeneity.csv of the same")
    parser.add_argument("--iou", required=True, type=float, help="hit IoU of the figure")
    parser.add_argument("--fp-rate", required=True, type=float, help="FP rate of the figure")
    parser.add_argument("--out", required=True, nargs="+", help="figure files (.png, .pdf, .svg)")
    parser.add_argument("--table", default=None, help="HTML page of every subgroup row")
    return parser


def _at(table: pd.DataFrame, iou: float, rate: float) -> pd.DataFrame:
    return table[np.isclose(table["iou"], iou) & np.isclose(table["fp_rate"], rate)]


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{100 * value:.0f}%"


def plot_forest(rows: pd.DataFrame, tests: pd.DataFrame, title: str):  # noqa: ANN201
    """The forest figure (a matplotlib Figure) of one operating point's subgroup ``rows``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    lines: list[tuple[str, pd.Series | None]] = []
    for grouping, part in rows.groupby("grouping", sort=False):
        test = tests[tests["grouping"] == grouping]
        p = float(test["p"].iloc[0]) if len(test) else float("nan")
        note = "gain differs: no test" if np.isnan(p) else f"gain differs: P = {p:.3g}"
        lines.append((f"{grouping} ({note})", None))
        lines += [(f"  {row.subgroup}", row) for row in part.itertuples()]
    fig = Figure(figsize=(7.5, 0.32 * len(lines) + 1.3), dpi=150)
    ax = fig.add_subplot()
    for y, (label, row) in enumerate(lines):
        weight = "bold" if row is None else "normal"
        ax.annotate(label, (0, y), xycoords=("axes fraction", "data"), xytext=(-8, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=7,
                    fontweight=weight)  # fmt: skip
        if row is None:
            continue
        if row.n_lesions and not np.isnan(row.difference):
            ax.plot([100 * row.difference_low, 100 * row.difference_high], [y, y], color="0.3")
            ax.plot(100 * row.difference, y, "s", color="#d62728", markersize=4)
        text = (
            f"n={row.n_lesions}  {_percent(row.single_sensitivity)} → "
            f"{_percent(row.multi_sensitivity)}"
        )
        ax.annotate(text, (1, y), xycoords=("axes fraction", "data"), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=7)  # fmt: skip
    ax.axvline(0, color="0.6", linewidth=0.8, zorder=0)
    ax.set(
        ylim=(len(lines) - 0.5, -0.5),
        xlim=(-100, 100),
        yticks=[],
        xlabel="multi-frame gain in sensitivity (percentage points, Newcombe 95% CI)",
        title=title,
    )
    ax.title.set_fontsize(9)
    fig.subplots_adjust(left=0.34, right=0.78, top=1 - 0.5 / fig.get_figheight(),
                        bottom=0.55 / fig.get_figheight())  # fmt: skip
    return fig


def _interval(value: float, low: float, high: float, scale: float = 100) -> str:
    if np.isnan(value):
        return "–"
    return f"{scale * value:.1f} ({scale * low:.1f} to {scale * high:.1f})"


def table_page(rows: pd.DataFrame, tests: pd.DataFrame) -> str:
    """The HTML page of every subgroup row and every test of equal gain."""
    shown = pd.DataFrame(
        {
            "grouping": rows["grouping"],
            "subgroup": rows["subgroup"],
            "IoU": rows["iou"].map("{:g}".format),
            "FP/seq": rows["fp_rate"].map("{:g}".format),
            "lesions": rows["n_lesions"],
            "single-frame % (Wilson CI)": [
                _interval(r.single_sensitivity, r.single_wilson_low, r.single_wilson_high)
                for r in rows.itertuples()
            ],
            "multi-frame % (Wilson CI)": [
                _interval(r.multi_sensitivity, r.multi_wilson_low, r.multi_wilson_high)
                for r in rows.itertuples()
            ],
            "gain, points (Newcombe CI)": [
                _interval(r.difference, r.difference_low, r.difference_high)
                for r in rows.itertuples()
            ],
            "single only / multi only": [
                f"{r.single_only} / {r.multi_only}" for r in rows.itertuples()
            ],
            "McNemar P": rows["mcnemar_p"].map(lambda p: "–" if np.isnan(p) else f"{p:.3g}"),
            "pooled into other": rows["pooled"].fillna(""),
        }
    )
    test_shown = pd.DataFrame(
        {
            "grouping": tests["grouping"],
            "IoU": tests["iou"].map("{:g}".format),
            "FP/seq": tests["fp_rate"].map("{:g}".format),
            "subgroups with discordant lesions": tests["n_informative"],
            "χ²": tests["chi2"].map(lambda v: "–" if np.isnan(v) else f"{v:.2f}"),
            "df": tests["df"],
            "P": tests["p"].map(lambda v: "–" if np.isnan(v) else f"{v:.3g}"),
        }
    )
    title = "Sensitivity by subgroup at the test split's operating points"
    test_title = "Does the multi-frame gain differ between subgroups? (χ² on discordant lesions)"
    return (
        f'<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n"
        f"{table_fragment(shown, title, index=False, uuid='subgroups')}\n"
        f"{table_fragment(test_shown, test_title, index=False, uuid='heterogeneity')}"
        "</body>\n</html>\n"
    )


def main(args: argparse.Namespace) -> None:
    """Write the forest figure to every ``args.out`` file and the table page to ``args.table``."""
    # a subgroup may be called "NA" or "None": only empty fields are missing
    rows = read_csv_checked(args.subgroups, SUBGROUP_COLUMNS, keep_default_na=False, na_values=[""])
    tests = read_csv_checked(args.heterogeneity, TEST_COLUMNS)
    point = _at(rows, args.iou, args.fp_rate)
    if point.empty:
        raise InputFileError(
            args.subgroups, f"no rows at hit IoU {args.iou:g} and {args.fp_rate:g} FP/sequence"
        )
    title = f"Multi-frame gain by subgroup, hit IoU ≥ {args.iou:g}, {args.fp_rate:g} FP/sequence"
    fig = plot_forest(point, _at(tests, args.iou, args.fp_rate), title)
    for target in map(Path, args.out):
        with atomic_path(target) as tmp:
            fig.savefig(
                tmp,
                format=target.suffix.lstrip(".") or None,
                metadata={"CreationDate": None} if target.suffix == ".pdf" else None,
            )
    if args.table:
        with atomic_open(args.table) as handle:
            handle.write(table_page(rows, tests))
