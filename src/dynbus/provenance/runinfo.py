"""``dynbus runinfo``: the run's resolved configuration, for its report.

Writes the configuration as Snakemake resolved it (schema defaults filled in) as YAML, with the
paths to the user's data withheld: raw folder and file names often hold patient names, and the
report travels. The software and machine are recorded by ``dynbus environment``.
"""

from __future__ import annotations

import argparse

import yaml

from dynbus import config as study_config
from dynbus.io.atomic import atomic_open

# Keys whose values are paths to the user's (PHI-bearing) data or to the private linkage folder.
PRIVATE_KEYS = ("raw_dir", "annotations", "linkage")
WITHHELD = "withheld: a private path (see your own config file)"


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus runinfo``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    study_config.add_config_argument(parser)
    parser.add_argument("--config-out", required=True, help="resolved configuration (YAML)")
    return parser


def main(args: argparse.Namespace) -> None:
    """Write the resolved configuration, private paths withheld."""
    config = study_config.load(args.config)
    config.update(dict.fromkeys(PRIVATE_KEYS, WITHHELD))
    config["source"]["coco_json"] = [WITHHELD] * len(config["source"]["coco_json"])
    with atomic_open(args.config_out, encoding="utf-8") as handle:
        yaml.safe_dump(config, handle, sort_keys=False, allow_unicode=True)
