"""The HTML report of a finished tiny run, opened in headless Chromium (Debian's ``chromium``).

The report is a single-page React app: its first view is the workflow description (filled from
the run's config, with the split summary as a table). A script appended to a copy of the page
opens Table 1 and a FROC plot the way a click does, and records what the page then shows.
Skipped without Chromium, except under CI (CI=true), where a missing Chromium is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
from PIL import Image

from tests.conftest import TINY, run_workflow

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,900",
    "--virtual-time-budget=15000",
]

REASON = None if CHROMIUM else "needs chromium (.ci/run installs it)"
if REASON and os.environ.get("CI") == "true":
    pytest.fail(f"CI must run the report tests: {REASON}", pytrace=False)
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

# Opens a result as a click on it does, then records the view in <body data-probe="...">.
NAVIGATE = """
<script>
function probe(extra) {
  document.body.setAttribute("data-probe", JSON.stringify(Object.assign({
    iframes: [...document.querySelectorAll("iframe")].map(f => f.src),
    images: [...document.images].filter(i => i.src.startsWith("data:image/png"))
      .map(i => i.naturalWidth),
  }, extra)));
}
function show(path, content) {
  app.setView({content: content, contentPath: results[path].data_uri, resultPath: path});
}
setTimeout(() => {
  show("results/tables/table1.html", "html");
  setTimeout(() => {
    const table = document.querySelector("iframe").src;
    show("results/plots/froc_iou0.5.png", "img");
    setTimeout(() => probe({table: table,
      labels: Object.values(results).map(r => r.labels),
      caption: results["results/plots/froc_iou0.5.png"].caption}), 1000);
  }, 1000);
}, 1000);
</script>
"""


class Page(HTMLParser):
    """Text, table rows and ``data-probe`` of a DOM dump."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.probe: dict = {}
        self._cell: list[str] | None = None
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "body" and dict(attrs).get("data-probe"):
            self.probe = json.loads(dict(attrs)["data-probe"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def chromium(profile: Path, *args: str) -> str:
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def report(tiny_runs, tmp_path_factory) -> tuple[Path, Path]:
    _, first = tiny_runs  # the demo run: its config.yaml lies in its work folder
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = run_workflow(first, "--report", str(path))
    assert result.returncode == 0, result.stderr[-4000:]
    return first, path


def test_report_opens_on_a_description_of_the_run(report, tmp_path):
    run, path = report
    page = Page(chromium(tmp_path / "profile", "--dump-dom", path.as_uri()))
    words = page.words()
    assert "Single- vs multi-frame mass detection in cine breast ultrasound" in words
    assert f"{TINY['simulate']['patients']} simulated patients" in words
    assert f"{TINY['evaluate']['bootstrap']} patient-level cluster bootstrap resamples" in words
    summary = pd.read_csv(run / "results" / "reports" / "split_summary.csv", dtype=str)
    expected = [list(summary.columns), *summary.to_numpy().tolist()]
    assert [row for row in page.rows if row] == expected
    shot = tmp_path / "report.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", path.as_uri())
    image = Image.open(shot)
    assert image.size == (1400, 900)
    assert len(image.convert("RGB").getcolors(1 << 20)) > 20  # text and the rule graph


def test_report_renders_table_1_and_the_froc_plot(report, tmp_path):
    run, path = report
    navigated = tmp_path / "navigated.html"
    page, end = path.read_text(encoding="utf-8").rsplit("</body>", 1)  # the page's own end
    navigated.write_text(page + NAVIGATE + "</body>" + end, encoding="utf-8")
    probe = Page(chromium(tmp_path / "profile", "--dump-dom", navigated.as_uri())).probe
    assert probe["images"] and min(probe["images"]) > 300  # the PNG decoded in the page
    assert "IoU ≥ 0.5" in probe["caption"]
    assert f"{TINY['evaluate']['bootstrap']} resamples" in probe["caption"]
    assert {"figure": "FROC", "IoU": "0.5", "format": "PDF"} in probe["labels"]
    assert {"table": "Table 1", "IoU": "0.2"} in probe["labels"]
    header, data = probe["table"].split(",", 1)
    assert header.startswith("data:text/html")
    table_page = tmp_path / "table1.html"
    table_page.write_bytes(
        base64.b64decode(unquote(data)) if ";base64" in header else unquote(data).encode()
    )
    rows = [
        row
        for row in Page(chromium(tmp_path / "profile", "--dump-dom", table_page.as_uri())).rows
        if row
    ]
    table = pd.read_csv(run / "results" / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    cells = {row[0]: row[-len(table.columns) + 1 :] for row in rows}
    for _, expected in table.iterrows():
        assert cells[expected["row"]] == list(expected.iloc[1:]), expected["row"]
    assert re.search(
        r"Table 1: single- vs multi-frame detection at IoU ≥ 0.2",
        Page(table_page.read_text(encoding="utf-8")).words(),
    )
