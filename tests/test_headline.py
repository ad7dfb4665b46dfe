"""The report's opening (``dynbus headline``) on hand-built counts: sentence, tables, figure."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pandas as pd
from PIL import Image

from dynbus.reporting.headline import sentence
from tests import in_process
from tests.test_report import Page

# (iou, fp_rate, method, tp, fn, fp, threshold): 10 masses
COUNTS = [
    (0.2, 0.1, "single", 6, 4, 1, 0.9),
    (0.2, 0.1, "multi", 9, 1, 1, 0.8),
    (0.2, 0.5, "single", 8, 2, 5, 0.5),
    (0.2, 0.5, "multi", 8, 2, 5, 0.4),
    (0.5, 0.1, "single", 5, 5, 1, 0.9),
    (0.5, 0.1, "multi", 7, 3, 1, 0.8),
    (0.5, 0.5, "single", 7, 3, 5, 0.5),
    (0.5, 0.5, "multi", 8, 2, 5, 0.4),
]


def write_counts(folder: Path) -> Path:
    path = folder / "counts.csv"
    pd.DataFrame(
        COUNTS, columns=["iou", "fp_rate", "method", "tp", "fn", "fp", "threshold"]
    ).to_csv(path, index=False)
    return path


def headline(*args: str) -> subprocess.CompletedProcess[str]:
    return in_process.dynbus("headline", *args)


def test_the_sentence_says_what_table_1_shows_worked_by_hand(tmp_path: Path) -> None:
    counts = pd.read_csv(write_counts(tmp_path))
    # 0.1 FP/seq: 60 % vs 90 %, Pearson χ² of [[4, 6], [1, 9]] = 2 (1.5²/2.5 + 1.5²/7.5) = 2.4,
    # P = 0.121; 0.5 FP/seq: 80 % both, χ² = 0, P = 1
    assert sentence(counts, 0.2) == (
        "Multi-frame fusion finds more masses than the single drawn frame at 1 of 2 operating "
        "points: at IoU ≥ 0.2 on 10 test masses, its sensitivity is 90.0 / 80.0 % against "
        "60.0 / 80.0 % at 0.1 / 0.5 false positives per sequence (Pearson χ² P 0.121 / 1.000)."
    )


def test_fragment_holds_the_sentence_both_tables_and_the_embedded_froc(tmp_path: Path) -> None:
    froc = tmp_path / "froc.png"
    Image.new("RGB", (40, 30), "white").save(froc)
    out = tmp_path / "headline.html"
    result = headline(
        "--counts", str(write_counts(tmp_path)), "--froc", str(froc), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert page.words().startswith("Multi-frame fusion finds more masses")
    assert "Table 1: single- vs multi-frame detection at IoU ≥ 0.2" in page.words()
    assert "Table 2: single- vs multi-frame detection at IoU ≥ 0.5" in page.words()
    multi = [row[1:] for row in page.rows if row and row[0] == "multi"]
    assert multi[0][:4] == ["1", "9", "1", "90.0"]  # Table 1, 0.1 FP/seq: FN, TP, FP, sens.
    assert multi[1][:4] == ["3", "7", "1", "70.0"]  # Table 2
    uri = text.split('class="dynbus-froc" src="', 1)[1].split('"', 1)[0]
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == froc.read_bytes()
    assert text.index("T_dynbus_table1") < text.index("dynbus-froc") < text.index("T_dynbus_table2")


def test_a_figure_that_is_not_a_png_is_named_in_one_line(tmp_path: Path) -> None:
    froc = tmp_path / "froc.pdf"
    froc.write_bytes(b"%PDF-1.4\n")
    out = tmp_path / "headline.html"
    result = headline(
        "--counts", str(write_counts(tmp_path)), "--froc", str(froc), "--out", str(out)
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"dynbus headline: error: {froc}: not a PNG image"
    assert not out.exists()
