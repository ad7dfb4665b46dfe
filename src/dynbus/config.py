"""The study configuration: one JSON schema (draft 2020-12, with defaults) for workflow and CLI.

The workflow (``workflow/rules/common.smk``) and every stage's ``--config`` (a YAML/JSON file,
or inline JSON, holding any subset of the sections) go through :func:`validate`: missing keys get
the schema's defaults, and a bad value is one line (key path and what is wrong). Checks a JSON
schema cannot express (split fractions summing to 1, ``simulate.frames`` ordered) run there
too, so every configuration error is caught at start. ``workflow/schemas/config.schema.yaml``
links to the schema shipped here.
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

FRACTION_TOLERANCE = 1e-3  # dynbus.dataset.split normalises fractions that sum to 1 within this


def schema() -> dict[str, Any]:
    """Return the configuration schema shipped with the package."""
    text = resources.files("dynbus").joinpath("config.schema.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _validator_filling_defaults() -> type[jsonschema.protocols.Validator]:
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, json.loads(json.dumps(sub["default"])))
        yield from validate_properties(validator, properties, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def _message(error: jsonschema.ValidationError) -> str:
    """What is wrong, without the (possibly long) schema or instance jsonschema quotes."""
    value = json.dumps(error.instance)
    if error.validator == "enum":
        return f"{value} is not one of {error.validator_value}"
    if error.validator == "type":
        return f"{value} is not of type {error.validator_value}"
    if error.validator == "oneOf":
        return f"{value} matches none of the allowed forms"
    return error.message.splitlines()[0]


def _cross_checks(config: dict[str, Any]) -> None:
    """Checks a JSON schema cannot express; raise one clear error."""
    fractions = config["split"]["fractions"]
    total = sum(fractions.values())
    if abs(total - 1) > FRACTION_TOLERANCE:
        raise DynbusError(
            f"invalid configuration at split/fractions: train + val + test = {total:.4g}, not 1"
        )
    low, high = config["simulate"]["frames"]
    if low > high:
        raise DynbusError(
            f"invalid configuration at simulate/frames: minimum {low} exceeds maximum {high}"
        )
    for key in ("size_bins_mm", "frame_rate_bins_fps"):
        edges = config["subgroups"][key]
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise DynbusError(
                f"invalid configuration at subgroups/{key}: edges {edges} are not increasing"
            )


# Keys an earlier version accepted, with what replaced them (a clearer error than "unexpected").
REMOVED_KEYS = {
    ("train", "workers"): "the train job's threads (Snakemake threads:, SLURM set-threads)",
    ("infer", "workers"): "the infer job's threads (Snakemake threads:, SLURM set-threads)",
}


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults into ``config`` in place and validate it; raise one clear error if invalid."""
    for (section, key), replacement in REMOVED_KEYS.items():
        if isinstance(config.get(section), dict) and key in config[section]:
            raise DynbusError(
                f"invalid configuration at {section}/{key}: removed in dynbus 0.3; "
                f"the number of DataLoader workers is now {replacement}: delete the key"
            )
    validator = _validator_filling_defaults()(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise DynbusError(f"invalid configuration at {where}: {_message(error)}")
    _cross_checks(config)
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
