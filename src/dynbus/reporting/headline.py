"""``dynbus headline``: the report's opening: one sentence, Tables 1-2 and the FROC figure.

Writes an HTML fragment that the Snakemake report's first page (``workflow/report/workflow.rst``)
shows above the protocol: a sentence saying what the tables show at the lowest IoU of Tables 1-2
(sensitivity of both protocols at each operating point, how many operating points multi-frame
fusion wins, Pearson χ² P), the tables as ``dynbus tables`` renders them, and the FROC figure
(``--froc``, a PNG) embedded as a data URI, so that the page needs no other file.
"""

from __future__ import annotations

import argparse
import base64
import html
from pathlib import Path

import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_open
from dynbus.io.html_table import table_fragment
from dynbus.protocol.stats import pearson_chi2
from dynbus.reporting.tables import TABLES, add_table_arguments, paper_tables, read_inputs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus headline``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_table_arguments(parser)
    parser.add_argument("--froc", required=True, help="FROC figure (PNG) of dynbus plots")
    parser.add_argument("--out", required=True, help="HTML fragment to write")
    return parser


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def sentence(counts: pd.DataFrame, iou: float) -> str:
    """What the table at hit IoU ``iou`` shows, in one sentence."""
    part = counts[(counts["iou"] - iou).abs() < 1e-9]
    rates = sorted(part["fp_rate"].unique())
    sens: dict[str, list[str]] = {"single": [], "multi": []}
    p_values, wins, masses = [], 0, 0
    for rate in rates:
        rows = part[part["fp_rate"] == rate].set_index("method")
        tp, fn = rows["tp"].astype(int), rows["fn"].astype(int)
        masses = int(tp["single"] + fn["single"])
        share = {m: tp[m] / (tp[m] + fn[m]) if tp[m] + fn[m] else float("nan") for m in sens}
        for method, value in share.items():
            sens[method].append(f"{100 * value:.1f}")
        wins += bool(share["multi"] > share["single"])
        p_values.append(_p(pearson_chi2(fn["single"], tp["single"], fn["multi"], tp["multi"])[1]))
    return (
        f"Multi-frame fusion finds more masses than the single drawn frame at {wins} of "
        f"{len(rates)} operating points: at IoU ≥ {iou:g} on {masses} test masses, its "
        f"sensitivity is {' / '.join(sens['multi'])} % against {' / '.join(sens['single'])} % "
        f"at {' / '.join(f'{r:g}' for r in rates)} false positives per sequence "
        f"(Pearson χ² P {' / '.join(p_values)})."
    )


def png_data_uri(path: str | Path) -> str:
    """``data:image/png;base64,...`` of a PNG file; anything else is refused naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise InputFileError(path, "not a PNG image")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def fragment(text: str, tables: dict[str, tuple[pd.DataFrame, str]], froc: str) -> str:
    """The HTML fragment: the sentence, the first table and the FROC side by side, the rest."""
    rendered = [
        table_fragment(table, title.replace(">=", "≥"), uuid=f"dynbus_{stem}")
        for stem, (table, title) in tables.items()
    ]
    figure = f'<img class="dynbus-froc" src="{froc}" alt="FROC curves, single vs multi-frame">'
    return (
        f'<div class="dynbus-headline">\n<p>{html.escape(text)}</p>\n'
        f'<div class="dynbus-row">\n<div>{rendered[0]}</div>\n{figure}\n</div>\n'
        + "".join(rendered[1:])
        + "</div>\n"
    )


def main(args: argparse.Namespace) -> None:
    """Write the report's opening fragment."""
    counts, stats, fold_summary = read_inputs(args)
    tables = paper_tables(counts, stats, fold_summary, args.counts)
    froc = png_data_uri(args.froc)
    iou = TABLES[next(iter(tables))]  # Table 1's IoU, or Table 2's without it
    with atomic_open(args.out, encoding="utf-8") as handle:
        handle.write(fragment(sentence(counts, iou), tables, froc))
