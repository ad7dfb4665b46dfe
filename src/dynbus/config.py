"""The study configuration: one JSON schema (with defaults) shared by Snakemake and the CLI.

Snakemake validates ``config.yaml`` against ``workflow/schemas/config.schema.yaml`` (a link to
the schema shipped here). A stage run on its own takes ``--config`` (a YAML/JSON file, or inline
JSON, holding any subset of the sections); missing keys get the schema's defaults.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dynbus.errors import DynbusError


def schema() -> dict[str, Any]:
    """Return the configuration schema shipped with the package."""
    text = resources.files("dynbus").joinpath("config.schema.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _validator_filling_defaults() -> type[jsonschema.protocols.Validator]:
    base = jsonschema.Draft7Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, json.loads(json.dumps(sub["default"])))
        yield from validate_properties(validator, properties, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults into ``config`` in place and validate it; raise one clear error if invalid."""
    validator = _validator_filling_defaults()(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise DynbusError(f"invalid configuration at {where}: {error.message}")
    return config


def load(value: str | None) -> dict[str, Any]:
    """Load ``--config`` (file path or inline JSON; None = all defaults) and validate it."""
    if value is None:
        data: Any = {}
    elif value.lstrip().startswith("{"):
        data = json.loads(value)
    else:
        path = Path(value)
        if not path.is_file():
            raise DynbusError(f"{value}: configuration file not found")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise DynbusError(f"{value}: configuration must be a mapping")
    return validate(data)


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add the standard ``--config`` option to a stage's parser."""
    parser.add_argument(
        "--config",
        default=None,
        help="study configuration: a YAML/JSON file or inline JSON with any of its sections "
        "(missing keys take the defaults of config.yaml's schema)",
    )
