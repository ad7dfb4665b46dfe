"""``dynbus timings``: the run's Snakemake benchmark TSVs, summarized per rule.

Each argument is ``RULE=TSV`` (one benchmark file of one job). Per rule: the number of jobs, the
total and the longest wall-clock time, the CPU time and the peak resident memory, as CSV and as
an HTML table for the report.
"""

from __future__ import annotations

import argparse

import pandas as pd

from dynbus.errors import DynbusError
from dynbus.io.atomic import atomic_open, write_csv
from dynbus.io.csv_input import read_csv_checked
from dynbus.io.html_table import to_html

BENCHMARK_COLUMNS = ["s", "max_rss", "cpu_time"]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus timings``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "benchmarks",
        nargs="+",
        metavar="RULE=TSV",
        help="a rule name and one benchmark file of its jobs",
    )
    parser.add_argument("--csv", required=True, help="summary (CSV)")
    parser.add_argument("--html", required=True, help="summary (HTML)")
    return parser


def summarize(benchmarks: list[tuple[str, str]]) -> pd.DataFrame:
    """Per rule, in first-seen order: jobs, wall-clock and CPU seconds, peak RSS in MiB."""
    jobs = pd.concat(
        [
            read_csv_checked(path, BENCHMARK_COLUMNS, sep="\t", na_values=["-"])[
                BENCHMARK_COLUMNS
            ].assign(rule=rule)
            for rule, path in benchmarks
        ]
    )
    summary = jobs.groupby("rule", sort=False).agg(
        jobs=("s", "size"),
        total_s=("s", "sum"),
        longest_s=("s", "max"),
        cpu_s=("cpu_time", "sum"),
        peak_rss_mib=("max_rss", "max"),
    )
    return summary.round(1).reset_index()


def main(args: argparse.Namespace) -> None:
    """Write the per-rule summary of the benchmark files."""
    pairs = []
    for item in args.benchmarks:
        rule, sep, path = item.partition("=")
        if not sep or not rule or not path:
            raise DynbusError(f"{item}: expected RULE=TSV")
        pairs.append((rule, path))
    summary = summarize(pairs)
    write_csv(args.csv, summary)
    total = summary["total_s"].sum()
    with atomic_open(args.html, encoding="utf-8") as handle:
        handle.write(
            to_html(summary, f"Benchmark timings per rule ({total:.0f} s of jobs)", index=False)
        )
