"""Configuration: the shipped config.yaml is valid, defaults fill in, bad values are refused."""

from pathlib import Path

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
    ],
)
def test_bad_values_give_one_clear_message(text, where):
    with pytest.raises(DynbusError, match=f"invalid configuration at {where}"):
        study_config.load(text)


def test_snakemake_refuses_an_unknown_key(tmp_path):
    import subprocess

    bad = tmp_path / "bad.yaml"
    bad.write_text("simulate: {patiens: 3}\n")
    result = subprocess.run(
        ["snakemake", "-n", "--configfile", str(bad)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "patiens" in result.stdout + result.stderr
