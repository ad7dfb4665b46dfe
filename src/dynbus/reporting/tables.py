"""``dynbus tables``: the paper's Tables 1-2 (and an extended table) from ``counts.csv``.

Table 1 is IoU 0.2, Table 2 IoU 0.5; rows single, multi, χ², P; for each FP rate the columns
FN, TP, FP and sensitivity (%), χ² and P to 3 decimals as the paper prints them. χ² is
recomputed from the counts (Pearson, no continuity correction). Each table is written as CSV,
Markdown, LaTeX (booktabs) and HTML (for the Snakemake report). With ``--stats``,
``extended.{csv,md,html}`` adds exact McNemar P, Wilson and bootstrap 95 % CIs and the fusion
order. With ``--fold-summary`` (k-fold cross-validation, ``dynbus pool``), the counts are the
folds' sums and each table gains the rows "single/multi, fold mean ± SE": the sensitivity's mean
and standard error across the folds.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_open, write_csv
from dynbus.io.csv_input import read_csv_checked
from dynbus.io.html_table import to_html
from dynbus.protocol.stats import pearson_chi2

COUNTS_COLUMNS = ["iou", "fp_rate", "method", "tp", "fn", "fp", "threshold"]
TABLES = {"table1": 0.2, "table2": 0.5}
FIELDS = ["FN", "TP", "FP", "Sensitivity (%)"]
PM = r"$\pm$"
FOLD_ROWS = {"single": "single, fold mean ± SE", "multi": "multi, fold mean ± SE"}
FOLD_SUMMARY_COLUMNS = ["iou", "fp_rate", "method", "n_folds", "mean_sensitivity", "se_sensitivity"]
EXTENDED_TITLE = (
    "Extended statistics: exact McNemar P, Wilson and patient-level bootstrap "
    "95 % CIs of each sensitivity and of the difference"
)


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """The inputs of the paper's tables: ``--counts``, ``--stats``, ``--fold-summary``."""
    parser.add_argument("--counts", required=True, help="counts.csv of dynbus evaluate")
    parser.add_argument(
        "--stats", default=None, help="stats.csv of dynbus evaluate (adds the extended table)"
    )
    parser.add_argument(
        "--fold-summary",
        default=None,
        help="fold_summary.csv of dynbus pool (adds the rows of the folds' mean ± SE)",
    )


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus tables``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_table_arguments(parser)
    parser.add_argument("--out", required=True, help="output directory (replaced atomically)")
    return parser


def read_counts(path: str | Path) -> pd.DataFrame:
    """Read and check ``counts.csv``."""
    counts = read_csv_checked(path, COUNTS_COLUMNS)
    if not set(counts["method"]) <= {"single", "multi"}:
        raise InputFileError(path, "method must be single or multi")
    if counts.duplicated(["iou", "fp_rate", "method"]).any():
        raise InputFileError(path, "an (iou, fp_rate, method) row appears twice")
    return counts


def paper_table(
    counts: pd.DataFrame, iou: float, fold_summary: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One table in the paper's layout: index single/multi/χ²/P, columns (FP rate, field); with
    the folds' ``fold_summary``, also each protocol's fold mean ± SE (in %) after multi."""
    part = counts[(counts["iou"] - iou).abs() < 1e-9]
    rates = sorted(part["fp_rate"].unique())
    columns = pd.MultiIndex.from_product([[f"{r:g} FP/seq" for r in rates], FIELDS])
    means = [] if fold_summary is None else list(FOLD_ROWS.values())
    index = ["single", "multi", *means, "χ²", "P"]
    table = pd.DataFrame("", index=index, columns=columns, dtype=object)
    for rate in rates:
        label = f"{rate:g} FP/seq"
        rows = part[part["fp_rate"] == rate].set_index("method")
        if set(rows.index) != {"single", "multi"}:
            raise InputFileError("counts", f"IoU {iou:g}, FP rate {rate:g}: need single and multi")
        for method in ("single", "multi"):
            tp, fn, fp = (int(rows.loc[method, c]) for c in ("tp", "fn", "fp"))
            sens = 100 * tp / (tp + fn) if tp + fn else float("nan")
            table.loc[method, label] = [str(fn), str(tp), str(fp), f"{sens:.1f}"]
        chi2, p = pearson_chi2(
            int(rows.loc["single", "fn"]),
            int(rows.loc["single", "tp"]),
            int(rows.loc["multi", "fn"]),
            int(rows.loc["multi", "tp"]),
        )
        if fold_summary is not None:
            for method, row in FOLD_ROWS.items():
                mean, se = _fold_mean_se(fold_summary, iou, rate, method)
                table.loc[row, (label, FIELDS[-1])] = f"{100 * mean:.1f} ± {100 * se:.1f}"
        table.loc["χ²", (label, FIELDS[0])] = f"{chi2:.3f}"
        table.loc["P", (label, FIELDS[0])] = f"{p:.3f}"
    return table


def _fold_mean_se(summary: pd.DataFrame, iou: float, rate: float, method: str) -> tuple:
    """(mean, SE) of one protocol's sensitivity across the folds at one operating point."""
    row = summary[
        ((summary["iou"] - iou).abs() < 1e-9)
        & ((summary["fp_rate"] - rate).abs() < 1e-9)
        & (summary["method"] == method)
    ]
    if len(row) != 1:
        raise InputFileError("fold summary", f"no row for IoU {iou:g}, {rate:g} FP/seq, {method}")
    return float(row["mean_sensitivity"].iloc[0]), float(row["se_sensitivity"].iloc[0])


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    flat = table.copy()
    flat.columns = [f"{rate} {field}" for rate, field in table.columns]
    return flat.rename_axis("row").reset_index()


def to_markdown(table: pd.DataFrame, title: str) -> str:
    """A GitHub-flavoured Markdown table (column headers ``<rate> <field>``) under a bold title."""
    flat = _flat(table)
    body = flat.to_markdown(
        index=False, disable_numparse=True, colalign=["left"] + ["right"] * (flat.shape[1] - 1)
    )
    return f"**{title}**\n\n{body}\n"


def to_latex(table: pd.DataFrame, caption: str) -> str:
    """A booktabs LaTeX table with a two-level header (FP rate over FN / TP / FP / Sens.)."""
    escape = {"χ²": r"$\chi^2$", "P": "$P$", "Sensitivity (%)": r"Sens.\ (\%)"}
    frame = table.rename(index=escape, columns=escape).map(lambda v: v.replace("±", PM))
    frame.index = frame.index.str.replace("±", PM)
    caption = caption.replace("±", PM)
    frame.columns = frame.columns.set_names([None, "Protocol"])
    latex = frame.style.to_latex(
        environment="table",
        position="ht",
        position_float="centering",
        caption=caption,
        hrules=True,
        multicol_align="c",
        column_format="l" + "r" * frame.shape[1],
    )
    k = len(FIELDS)
    rule = " ".join(
        f"\\cmidrule(lr){{{2 + i * k}-{1 + (i + 1) * k}}}" for i in range(frame.shape[1] // k)
    )
    lines = latex.splitlines(keepends=True)
    lines.insert(lines.index("\\toprule\n") + 2, rule + "\n")  # under the FP-rate header
    return "".join(lines)


def _threshold(value: float) -> str:
    """A score threshold to 4 decimals; pooled folds have one per fold (NaN in counts.csv)."""
    return "per fold" if np.isnan(value) else f"{value:.4f}"


def extended_table(stats: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """McNemar P, Wilson and bootstrap CIs and each operating point's score threshold per
    IoU x FP rate, rounded for reading."""
    thresholds = counts.pivot_table(
        index=["iou", "fp_rate"], columns="method", values="threshold", dropna=False
    ).reindex(pd.MultiIndex.from_frame(stats[["iou", "fp_rate"]]))

    def ci(prefix: str) -> pd.Series:
        return (
            stats[f"{prefix}_low"].map("{:.3f}".format)
            + "-"
            + stats[f"{prefix}_high"].map("{:.3f}".format)
        )

    return pd.DataFrame(
        {
            "IoU": stats["iou"],
            "FP/seq": stats["fp_rate"],
            "single": stats["single_sensitivity"].map("{:.3f}".format),
            "single Wilson 95% CI": ci("single_wilson"),
            "single bootstrap 95% CI": ci("single_boot"),
            "multi": stats["multi_sensitivity"].map("{:.3f}".format),
            "multi Wilson 95% CI": ci("multi_wilson"),
            "multi bootstrap 95% CI": ci("multi_boot"),
            "multi - single": stats["difference"].map("{:.3f}".format),
            "difference bootstrap 95% CI": ci("difference_boot"),
            "chi2 P": stats["p"].map("{:.3f}".format),
            "McNemar exact P": stats["mcnemar_p"].map("{:.3f}".format),
            "fusion order": stats["fusion_order"],
            "single threshold": thresholds["single"].map(_threshold).to_numpy(),
            "multi threshold": thresholds["multi"].map(_threshold).to_numpy(),
        }
    )


def read_inputs(
    args: argparse.Namespace,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The counts, stats (or None) and fold summary (or None) that ``add_table_arguments`` names."""
    counts = read_counts(args.counts)
    stats = None
    if args.stats is not None:
        if not Path(args.stats).is_file():
            raise InputFileError(args.stats, "file not found")
        stats = pd.read_csv(args.stats)
    fold_summary = None
    if args.fold_summary is not None:
        fold_summary = read_csv_checked(args.fold_summary, FOLD_SUMMARY_COLUMNS)
    return counts, stats, fold_summary


def paper_tables(
    counts: pd.DataFrame,
    stats: pd.DataFrame | None,
    fold_summary: pd.DataFrame | None,
    source: str | Path,
) -> dict[str, tuple[pd.DataFrame, str]]:
    """Tables 1-2 (those whose IoU ``counts`` holds): file stem -> (table, title)."""
    note = "" if stats is None else f" Multi-frame fusion order: {stats['fusion_order'].iloc[0]}."
    if fold_summary is not None:
        folds = int(fold_summary["n_folds"].max())
        note += (
            f" Pooled over {folds} test folds (counts summed, each fold's thresholds set on its"
            " own test set); fold mean ± SE of the sensitivity beside."
        )
    present = {
        stem: iou for stem, iou in TABLES.items() if ((counts["iou"] - iou).abs() < 1e-9).any()
    }
    if not present:
        raise InputFileError(source, "no rows at IoU 0.2 or 0.5")
    return {
        stem: (
            paper_table(counts, iou, fold_summary),
            f"Table {stem[-1]}: single- vs multi-frame detection at IoU >= {iou:g} "
            f"(χ² without continuity correction).{note}",
        )
        for stem, iou in present.items()
    }


def main(args: argparse.Namespace) -> None:
    """Render the tables into ``args.out``."""
    counts, stats, fold_summary = read_inputs(args)
    tables = paper_tables(counts, stats, fold_summary, args.counts)
    Path(args.out).mkdir(parents=True, exist_ok=True)  # other rules write tables here too
    with contextlib.nullcontext(Path(args.out)) as out:
        for stem, (table, title) in tables.items():
            write_csv(out / f"{stem}.csv", _flat(table))
            with atomic_open(out / f"{stem}.md", encoding="utf-8") as handle:
                handle.write(to_markdown(table, title))
            with atomic_open(out / f"{stem}.tex", encoding="utf-8") as handle:
                handle.write(
                    to_latex(table, title.replace("χ²", r"$\chi^2$").replace(">=", r"$\geq$"))
                )
            with atomic_open(out / f"{stem}.html", encoding="utf-8") as handle:
                handle.write(to_html(table, title.replace(">=", "≥")))
        if stats is not None:
            extended = extended_table(stats, counts)
            write_csv(out / "extended.csv", extended)
            with atomic_open(out / "extended.md", encoding="utf-8") as handle:
                handle.write(extended.to_markdown(index=False, disable_numparse=True) + "\n")
            with atomic_open(out / "extended.html", encoding="utf-8") as handle:
                handle.write(to_html(extended, EXTENDED_TITLE, index=False))
