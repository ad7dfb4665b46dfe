"""The configuration reference (docs/configuration.md) is generated from the schema: no drift."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from dynbus import config as study_config
from dynbus.config_reference import render
from dynbus.errors import DynbusError
from tests import in_process

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "configuration.md"


def test_committed_reference_is_what_the_schema_generates(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    result = in_process.dynbus("config-reference", "--out", out, "--shipped", ROOT / "config.yaml")
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8"), (
        "docs/configuration.md differs from the schema: run "
        "`dynbus config-reference --out docs/configuration.md` and commit it"
    )


def test_each_key_is_one_row_with_its_default_and_the_demo_value() -> None:
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    rows = [line for line in render(study_config.schema(), shipped).splitlines() if "| `" in line]
    keys = [row.split("`")[1] for row in rows]
    expected = [
        name if "properties" not in spec else f"{name}.{key}"
        for name, spec in study_config.schema()["properties"].items()
        for key in spec.get("properties", [name])
    ]
    assert sorted(keys) == sorted(expected)
    patients = rows[keys.index("simulate.patients")].split(" | ")
    assert patients[1:4] == ["integer ≥ 1", "`40`", f"`{shipped['simulate']['patients']}`"]
    seed = rows[keys.index("simulate.seed")].split(" | ")
    assert seed[2:4] == ["`2022`", ""]  # the demo keeps the default: no second value


def test_a_key_without_a_description_is_refused_by_name() -> None:
    schema = copy.deepcopy(study_config.schema())
    del schema["properties"]["fusion"]["properties"]["window"]["description"]
    shipped = study_config.validate({})
    with pytest.raises(DynbusError, match="config.schema.yaml: fusion.window has no description"):
        render(schema, shipped)
