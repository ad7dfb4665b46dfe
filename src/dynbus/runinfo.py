"""``dynbus runinfo``: what produced a run, for its report: the resolved config and versions.

Writes the configuration as Snakemake resolved it (schema defaults filled in) as YAML, and the
versions of Python, the platform and the packages the study's results depend on (those
installed in the environment the command runs in) as CSV and as an HTML table.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

import pandas as pd
import yaml

from dynbus import __version__
from dynbus import config as study_config
from dynbus.atomic import atomic_open, write_csv
from dynbus.html_table import to_html

PACKAGES = ["torch", "torchvision", "numpy", "pandas", "scipy", "statsmodels", "matplotlib",
            "pillow", "pydicom", "jsonschema", "pyyaml"]


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus runinfo``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    study_config.add_config_argument(parser)
    parser.add_argument("--config-out", required=True, help="resolved configuration (YAML)")
    parser.add_argument("--versions-csv", required=True, help="software versions (CSV)")
    parser.add_argument("--versions-html", required=True, help="software versions (HTML)")
    parser.add_argument("--snakemake", default=None, help="version of Snakemake running the run")
    return parser


def software_versions(snakemake: str | None = None) -> pd.DataFrame:
    """One row per piece of software: name and version (``not installed`` when absent)."""
    rows = [("python", platform.python_version()), ("platform", platform.platform()),
            ("dynbus", __version__)]
    if snakemake is not None:
        rows.append(("snakemake", snakemake))
    for name in PACKAGES:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["software", "version"])


def main(args: argparse.Namespace) -> None:
    """Write the resolved configuration and the software versions."""
    config = study_config.load(args.config)
    with atomic_open(args.config_out, encoding="utf-8") as handle:
        yaml.safe_dump(config, handle, sort_keys=False, allow_unicode=True)
    versions = software_versions(args.snakemake)
    write_csv(args.versions_csv, versions)
    with atomic_open(args.versions_html, encoding="utf-8") as handle:
        handle.write(to_html(versions, "Software versions (the environment of dynbus runinfo)",
                             index=False))
