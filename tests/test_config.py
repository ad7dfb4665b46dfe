"""Configuration: the shipped config.yaml is valid, defaults fill in, bad values are refused."""

import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from dynbus import config as study_config
from dynbus.errors import DynbusError

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_is_valid_and_workflow_schema_is_the_packaged_one():
    study_config.validate(yaml.safe_load((ROOT / "config.yaml").read_text()))
    workflow_schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert yaml.safe_load(workflow_schema.read_text()) == study_config.schema()


def test_every_schema_key_is_in_config_yaml():
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    for name, spec in study_config.schema()["properties"].items():
        assert name in shipped, name
        for sub in spec.get("properties", {}):
            assert sub in shipped[name], f"{name}.{sub}"


def test_defaults_fill_missing_sections_and_keys():
    cfg = study_config.load('{"fusion": {"iou": 0.3}}')
    assert cfg["fusion"]["iou"] == 0.3
    assert cfg["fusion"]["score"] == "max"
    assert cfg["evaluate"]["fp_rates"] == [0.1, 0.2, 0.5]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"fusion": {"iuo": 0.3}}', "fusion"),
        ('{"fusion": {"score": "median"}}', "fusion/score"),
        ('{"on_bad_input": "ignore"}', "on_bad_input"),
        ('{"train": {"epochs": 0}}', "train/epochs"),
        ('{"split": {"fractions": {"train": 0.8, "val": 0.2, "test": 0.1}}}', "split/fractions"),
        ('{"simulate": {"frames": [9, 5]}}', "simulate/frames"),
        ('{"train": {"workers": 2}}', "train/workers: removed in dynbus 0.3"),
        ('{"infer": {"batch_size": 8, "workers": 8}}', "infer/workers: removed in dynbus 0.3"),
    ],
)
def test_bad_values_give_one_clear_message(text, where):
    with pytest.raises(DynbusError, match=f"invalid configuration at {where}") as error:
        study_config.load(text)
    assert "\n" not in str(error.value) and len(str(error.value)) < 200


def test_schema_is_draft_2020_12():
    draft = jsonschema.Draft202012Validator.META_SCHEMA["$schema"]
    assert study_config.schema()["$schema"] == draft


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("simulate: {patiens: 3}\n", "at simulate: Additional properties are not allowed"),
        (
            "split: {fractions: {train: 0.8, val: 0.2, test: 0.1}}\n",
            "at split/fractions: train + val + test = 1.1, not 1",
        ),
    ],
)
def test_snakemake_refuses_a_bad_config_at_start_in_one_line(text, message, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = subprocess.run(
        ["snakemake", "-n", "--configfile", str(bad)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "configuration" in line]
    assert len(errors) == 1 and errors[0].startswith(f"dynbus: invalid configuration {message}")
    assert "properties" not in result.stderr.replace("Additional properties", "")  # no schema
    assert "Traceback" not in result.stderr
    assert "No validator found" not in result.stdout + result.stderr
