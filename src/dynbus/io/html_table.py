"""Tables as standalone HTML pages, which the Snakemake report shows as they are."""

from __future__ import annotations

import html

import pandas as pd

HTML_STYLE = [
    {"selector": "", "props": "border-collapse: collapse; font: 14px sans-serif;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; padding: 6px 0;"},
    {"selector": "th, td", "props": "border: 1px solid #bbb; padding: 3px 8px;"},
    {"selector": "td", "props": "text-align: right;"},
]


def table_fragment(
    frame: pd.DataFrame, title: str, index: bool = True, uuid: str = "dynbus"
) -> str:
    """One table under its title as an HTML fragment: its ``<style>`` (scoped by ``uuid``) and
    ``<table>`` (pandas Styler; cells escaped)."""
    styler = frame.style.set_uuid(uuid).format(escape="html").set_caption(html.escape(title))
    styler = styler.set_table_styles(HTML_STYLE)
    if not index:
        styler = styler.hide(axis="index")
    return styler.to_html()


def to_html(frame: pd.DataFrame, title: str, index: bool = True) -> str:
    """A standalone HTML page holding one table under its title."""
    return (
        f'<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n"
        f"{table_fragment(frame, title, index)}</body>\n</html>\n"
    )
