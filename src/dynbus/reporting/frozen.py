"""``dynbus frozen-tables``: test results both ways: paper (re-set on test) and frozen (from val).

The paper sets each operating point's threshold on the test detections themselves; a clinical
reader needs it chosen on development data and applied unchanged. ``frozen.{csv,md,html}`` shows
both for every hit IoU, FP rate and method: threshold, TP, FN, FP, the FP per sequence reached
and the sensitivity with its Wilson 95 % CI. Several ``--points`` files (k-fold
cross-validation) are pooled by summing their counts; the thresholds are then per fold. With
``--evaluated external`` (external validation) the labels and title name the external site and
the development val split instead of test and val.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_open, write_csv
from dynbus.io.csv_input import read_csv_checked
from dynbus.io.html_table import to_html
from dynbus.protocol.stats import wilson
from dynbus.reporting.tables import read_counts

KEYS = ["iou", "fp_rate", "method"]
POINT_COLUMNS = [*KEYS, "threshold", "tp", "fn", "fp", "n_sequences"]
PAPER = "paper: re-set on test"
FROZEN = "frozen: from val"
TITLE = (
    "Test results at thresholds re-set on test (the paper's protocol) and frozen on val "
    "(chosen on the validation split, applied unchanged)"
)
# The labels and title of each kind of evaluated data: the study's test split, an external site.
WAYS = {
    "test": (PAPER, FROZEN, TITLE),
    "external": (
        "paper: re-set on external",
        "frozen: from development val",
        "External-site results at thresholds re-set on the site's own detections (the paper's "
        "protocol) and frozen on the development val split (the package's, applied unchanged)",
    ),
}


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus frozen-tables``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", required=True, help="counts.csv of dynbus evaluate (or pool)")
    parser.add_argument(
        "--points", required=True, nargs="+", help="operating_points.csv (one per fold)"
    )
    parser.add_argument("--out", required=True, help="folder for frozen.csv, .md and .html")
    parser.add_argument(
        "--evaluated",
        choices=sorted(WAYS),
        default="test",
        help="what the counts are of: the study's test split or an external site (labels, title)",
    )
    return parser


def read_points(paths: list[str | Path]) -> pd.DataFrame:
    """The frozen counts of one ``operating_points.csv``, or several summed (threshold NaN)."""
    parts = [read_csv_checked(path, POINT_COLUMNS)[POINT_COLUMNS] for path in paths]
    if len(parts) == 1:
        return parts[0]
    summed = pd.concat(parts).groupby(KEYS, sort=False)[["tp", "fn", "fp", "n_sequences"]].sum()
    return summed.reset_index().assign(threshold=np.nan)[POINT_COLUMNS]


def both_ways(counts: pd.DataFrame, points: pd.DataFrame, evaluated: str = "test") -> pd.DataFrame:
    """One row per hit IoU x FP rate x method x way of setting the threshold, for reading
    (labelled for the ``evaluated`` data, a key of ``WAYS``)."""
    paper_label, frozen_label, _ = WAYS[evaluated]
    n_sequences = points.groupby(KEYS, sort=False)["n_sequences"].first()
    paper = counts[[*KEYS, "threshold", "tp", "fn", "fp"]].merge(
        n_sequences.reset_index(), on=KEYS, how="inner", validate="1:1"
    )
    if len(paper) != len(points):
        raise InputFileError("--counts", "its IoUs, FP rates and methods differ from --points'")
    rows = []
    for way, table in ((paper_label, paper), (frozen_label, points)):
        for r in table.itertuples(index=False):
            low, high = wilson(int(r.tp), int(r.tp + r.fn))
            sens = r.tp / (r.tp + r.fn) if r.tp + r.fn else float("nan")
            order = (r.iou, r.fp_rate, r.method != "single", way == frozen_label)
            rows.append(
                (
                    order,
                    {
                        "IoU": f"{r.iou:g}",
                        "FP/seq": f"{r.fp_rate:g}",
                        "method": r.method,
                        "thresholds": way,
                        "threshold": "per fold" if np.isnan(r.threshold) else f"{r.threshold:.4f}",
                        "TP": int(r.tp),
                        "FN": int(r.fn),
                        "FP": int(r.fp),
                        "FP/seq reached": f"{r.fp / r.n_sequences:.3f}",
                        "Sensitivity (%)": f"{100 * sens:.1f}",
                        "Wilson 95% CI (%)": f"{100 * low:.1f}-{100 * high:.1f}",
                    },
                )
            )
    rows.sort(key=lambda item: item[0])
    return pd.DataFrame([row for _, row in rows])


def main(args: argparse.Namespace) -> None:
    """Write ``frozen.csv``, ``frozen.md`` and ``frozen.html`` into ``args.out``."""
    table = both_ways(read_counts(args.counts), read_points(args.points), args.evaluated)
    title = WAYS[args.evaluated][2]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # the folder of dynbus tables' files too
    write_csv(out / "frozen.csv", table)
    with atomic_open(out / "frozen.md", encoding="utf-8") as handle:
        body = table.to_markdown(index=False, disable_numparse=True)
        handle.write(f"**{title}**\n\n{body}\n")
    with atomic_open(out / "frozen.html", encoding="utf-8") as handle:
        handle.write(to_html(table, title, index=False))
