"""``dynbus tables``: the paper's Table 1 regenerated from counts, in CSV / Markdown / LaTeX."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests import in_process

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "paper_table1.csv"  # the paper's Table 1 (IoU 0.2)
SHARED_REFERENCE = ROOT.parent / "shared" / "reference" / "paper_table1.csv"


def dynbus(*args: str) -> subprocess.CompletedProcess:
    return in_process.dynbus(*args, cwd=ROOT)


@pytest.fixture
def paper_counts(tmp_path: Path) -> Path:
    paper = pd.read_csv(REFERENCE)
    counts = paper.assign(
        sensitivity=paper["tp"] / (paper["tp"] + paper["fn"]), n_sequences=0, threshold=0.5
    )
    path = tmp_path / "counts.csv"
    counts[
        ["iou", "fp_rate", "method", "tp", "fn", "fp", "sensitivity", "n_sequences", "threshold"]
    ].to_csv(path, index=False)
    return path


def test_table1_reproduces_every_chi2_and_p_of_the_paper(paper_counts: Path, tmp_path: Path):
    result = dynbus("tables", "--counts", str(paper_counts), "--out", str(tmp_path / "t"))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "t" / "table1.csv", dtype=str, keep_default_na=False)
    table = table.set_index("row")
    paper = pd.read_csv(REFERENCE, dtype=str)
    for _, ref in paper.iterrows():
        rate = f"{float(ref['fp_rate']):g} FP/seq"
        assert table.loc["χ²", f"{rate} FN"] == ref["chi2"]
        assert table.loc["P", f"{rate} FN"] == ref["p"]
        for field in ("FN", "TP", "FP"):
            assert table.loc[ref["method"], f"{rate} {field}"] == ref[field.lower()]
        assert table.loc[ref["method"], f"{rate} Sensitivity (%)"] == ref["sensitivity_pct"]
    markdown = (tmp_path / "t" / "table1.md").read_text(encoding="utf-8")
    markdown = re.sub(" +", " ", markdown)  # cells are padded to the column width
    for label, column in [("χ²", "chi2"), ("P", "p")]:
        assert markdown_row(markdown, label) == list(paper.drop_duplicates("fp_rate")[column])
    for method, rows in paper.groupby("method"):
        expected = rows[["fn", "tp", "fp", "sensitivity_pct"]].to_numpy().ravel().tolist()
        assert markdown_row(markdown, method) == expected
    latex = (tmp_path / "t" / "table1.tex").read_text(encoding="utf-8")
    assert r"\toprule" in latex and r"$\chi^2$ & 0.016" in latex and r"$P$ & 0.898" in latex


def markdown_row(markdown: str, label: str) -> list[str]:
    """The non-empty cells after ``label`` in the Markdown table's row ``| label | ... |``."""
    rows = [line for line in markdown.splitlines() if line.startswith(f"| {label} |")]
    assert len(rows) == 1, (label, markdown)
    return [cell.strip() for cell in rows[0].split("|")[2:] if cell.strip()]


def test_the_papers_counts_are_the_shared_reference():
    if not SHARED_REFERENCE.is_file():
        pytest.skip(f"{SHARED_REFERENCE} is not beside this clone (tests/data holds the copy)")
    assert REFERENCE.read_bytes() == SHARED_REFERENCE.read_bytes()


def test_tables_reports_a_broken_counts_file(tmp_path: Path) -> None:
    bad = tmp_path / "counts.csv"
    bad.write_text("iou,fp_rate,method\n0.2,0.1,single\n", encoding="utf-8")
    result = dynbus("tables", "--counts", str(bad), "--out", str(tmp_path / "t"))
    assert result.returncode == 2
    assert "counts.csv: missing columns tp, fn, fp" in result.stderr
    assert not (tmp_path / "t").exists()
