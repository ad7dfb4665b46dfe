"""The HTML report of a finished tiny run, opened in headless Chromium (Debian's ``chromium``).

The report is a single-page React app: its first view opens on the results (one sentence,
Tables 1-2, the FROC plot), then describes the run (filled from the run's config, with the split
summary as a table), with the rule graph below. Scripts appended to a copy of the page record
where each part of the first view lies, or open Table 1 and a FROC plot the way a click does and
record what the page then shows. The model card's and the frozen table's pages are read from the
report's embedded data (no browser needed).
The browser tests are skipped without Chromium, except under CI (CI=true), where a missing
Chromium is a failure.
"""

from __future__ import annotations

import base64
import itertools
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
    "--virtual-time-budget=15000",
]
HEIGHT = 900

REASON = None if CHROMIUM else "needs chromium (.ci/run installs it)"
if REASON and os.environ.get("CI") == "true":
    pytest.fail(f"CI must run the report tests: {REASON}", pytrace=False)
needs_chromium = pytest.mark.skipif(REASON is not None, reason=REASON or "")

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


# Records the window's size and the box (left, top, right, bottom) of each part of the first view.
LAYOUT = """
<script>
setTimeout(() => {
  const heading = text => [...document.querySelectorAll("h1, h2")]
    .find(h => h.textContent.trim() === text);
  const parts = {
    navigation: document.querySelector("#app nav"),
    title: heading("Single- vs multi-frame mass detection in cine breast ultrasound"),
    sentence: document.querySelector(".dynbus-headline > p"),
    table1: document.getElementById("T_dynbus_table1"),
    froc: document.querySelector(".dynbus-froc"),
    table2: document.getElementById("T_dynbus_table2"),
    split_summary: [...document.querySelectorAll("table")]
      .find(t => t.caption && t.caption.textContent.trim() === "Split summary"),
    protocol: heading("Protocol"),
    rule_graph: document.getElementById("rulegraph"),
  };
  const box = el => {
    const r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  };
  document.body.setAttribute("data-probe", JSON.stringify({
    width: window.innerWidth, height: window.innerHeight,
    boxes: Object.fromEntries(Object.entries(parts).map(([k, el]) => [k, el ? box(el) : null])),
  }));
}, 3000);
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


def chromium(profile: Path, *args: str, width: int = 1400) -> str:
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--window-size={width},{HEIGHT}", f"--user-data-dir={profile}", *args],
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


def data_uri_bytes(uri: str) -> bytes:
    """The content of a ``data:`` URI (base64 or percent-encoded)."""
    header, data = uri.split(",", 1)
    return base64.b64decode(unquote(data)) if ";base64" in header else unquote(data).encode()


def in_order(rows: list[list[str]], expected: list[list[str]]) -> bool:
    """Whether ``expected`` appears as consecutive rows of ``rows``."""
    return any(rows[i : i + len(expected)] == expected for i in range(len(rows)))


@needs_chromium
def test_report_opens_on_the_results_then_describes_the_run(report, tmp_path):
    run, path = report
    page = Page(chromium(tmp_path / "profile", "--dump-dom", path.as_uri()))
    words = page.words()
    title = "Single- vs multi-frame mass detection in cine breast ultrasound"
    assert title in words
    assert words.index(title) < words.index("Multi-frame fusion finds more masses")
    assert words.index("Table 1: single- vs multi-frame") < words.index("Protocol")
    assert f"{TINY['simulate']['patients']} simulated patients" in words
    assert f"{TINY['evaluate']['bootstrap']} patient-level cluster bootstrap resamples" in words
    rows = [row for row in page.rows if row]
    summary = pd.read_csv(run / "results" / "reports" / "split_summary.csv", dtype=str)
    assert in_order(rows, [list(summary.columns), *summary.to_numpy().tolist()])
    table = pd.read_csv(run / "results" / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    assert in_order(rows, table.to_numpy().tolist())  # Table 1's body as the CSV holds it


def overlap(a: list[float], b: list[float]) -> bool:
    """Whether two boxes (left, top, right, bottom) share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@needs_chromium
@pytest.mark.parametrize("width", [1024, 1400])
def test_first_view_opens_on_the_results_and_nothing_overlaps(report, tmp_path, width):
    _, path = report
    probed = tmp_path / "layout.html"
    page, end = path.read_text(encoding="utf-8").rsplit("</body>", 1)  # the page's own end
    probed.write_text(page + LAYOUT + "</body>" + end, encoding="utf-8")
    probe = Page(chromium(tmp_path / "profile", "--dump-dom", probed.as_uri(), width=width)).probe
    assert probe["width"] == width
    boxes = probe["boxes"]
    assert None not in boxes.values(), boxes
    for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
        assert not overlap(box_a, box_b), f"at {width} px {a} {box_a} overlaps {b} {box_b}"
    for name, box in boxes.items():
        assert box[0] >= 0 and box[2] <= width, f"at {width} px {name} {box} leaves the window"
    # the results come first, above the description of the run; Table 1 on the first screen
    order = ["title", "sentence", "table1", "table2", "split_summary", "protocol", "rule_graph"]
    tops = [boxes[name][1] for name in order]
    assert tops == sorted(tops) and tops[0] >= 0, dict(zip(order, tops, strict=True))
    assert boxes["table1"][3] <= probe["height"] and boxes["froc"][1] < probe["height"]
    shot = tmp_path / f"report_{width}.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", path.as_uri(), width=width)
    image = Image.open(shot)
    assert image.size == (width, HEIGHT)
    assert len(image.convert("RGB").getcolors(1 << 20)) > 20  # text, tables and the FROC plot


@needs_chromium
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
    labelled = [labels for labels in probe["labels"] if labels]  # pages without labels: None
    figures = {(labels.get("figure"), labels.get("table")) for labels in labelled}
    assert {("forest plot", None), (None, "subgroups")} <= figures  # issue 26
    assert probe["table"].startswith("data:text/html")
    table_page = tmp_path / "table1.html"
    table_page.write_bytes(data_uri_bytes(probe["table"]))
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


def report_results(path: Path) -> dict:
    """The report's ``results`` object (path -> labels, caption, data URI, ...): the JSON the
    page's ``<script id="results">`` holds."""
    page = path.read_text(encoding="utf-8")
    start = page.index("var results = ", page.index('<script id="results">')) + len(
        "var results = "
    )
    return json.JSONDecoder().raw_decode(page, start)[0]


def test_report_holds_the_model_card_and_the_frozen_table(report):
    run, path = report
    results = report_results(path)
    card = results["results/model/model_card.html"]
    assert card["labels"] == {"item": "model card"}
    words = Page(data_uri_bytes(card["data_uri"]).decode("utf-8")).words()
    for heading in ("Intended use", "Training data", "Operating points", "CLAIM 2024 items"):
        assert heading in words
    frozen = results["results/tables/frozen.html"]
    assert frozen["labels"] == {"table": "paper vs frozen thresholds", "IoU": "all"}
    page = Page(data_uri_bytes(frozen["data_uri"]).decode("utf-8"))
    table = pd.read_csv(run / "results/tables/frozen.csv", dtype=str, keep_default_na=False)
    rows = [row[-len(table.columns) :] for row in page.rows if row]
    assert in_order(rows, table.to_numpy().tolist())  # both ways, as frozen.csv holds them
