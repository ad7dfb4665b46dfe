"""The model package format: written whole, read back, archived byte-identically, bad ones named."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml

from dynbus.config import validate
from dynbus.errors import InputFileError
from dynbus.model.package import (
    MODEL_YAML,
    WEIGHTS,
    OperatingPoint,
    load_package,
    model_yaml,
    write_archive,
    write_package,
)

POINTS = [OperatingPoint("single", 0.1, 0.93), OperatingPoint("multi", 0.1, 0.81)]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    weights = tmp_path / "detector.pt"
    weights.write_bytes(b"weights")
    content = model_yaml(validate({}), POINTS, {"dynbus_version": "test"})
    out = tmp_path / "package"
    write_package(out, weights, content, {"docs/README.md": "# card\n"})
    return out


def test_round_trip(package: Path, tmp_path: Path) -> None:
    loaded = load_package(package, tmp_path)
    assert loaded.weights.read_bytes() == b"weights"
    assert loaded.operating_points == tuple(POINTS)
    assert loaded.threshold("multi", 0.1) == 0.81
    assert loaded.config["fusion"] == validate({})["fusion"]
    assert loaded.meta == {"format": "dynbus-model/1", "dynbus_version": "test"}
    assert (package / "docs/README.md").read_text() == "# card\n"
    with pytest.raises(KeyError):
        loaded.threshold("multi", 0.5)


def test_archive_is_byte_identical_and_loads(package: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    write_archive(package, first)
    (package / WEIGHTS).touch()  # a newer mtime must not change the archive
    write_archive(package, second)
    assert first.read_bytes() == second.read_bytes()
    assert load_package(first, tmp_path / "work").threshold("single", 0.1) == 0.93


def test_rewriting_replaces_the_old_package(package: Path, tmp_path: Path) -> None:
    (package / "stale.txt").write_text("old")
    weights = tmp_path / "other.pt"
    weights.write_bytes(b"new")
    write_package(package, weights, model_yaml(validate({}), POINTS, {}), {})
    assert not (package / "stale.txt").exists()
    assert (package / WEIGHTS).read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".package")] == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / WEIGHTS).unlink(), "no models/model.pt"),
        (lambda p: (p / MODEL_YAML).write_text("format: other\n"), "format is not"),
        (lambda p: (p / MODEL_YAML).write_text("a: [\n"), "not valid YAML"),
        (
            lambda p: (p / MODEL_YAML).write_text(
                yaml.safe_dump({"format": "dynbus-model/1", "config": {"deid": {}}})
            ),
            "config lacks",
        ),
    ],
)
def test_a_damaged_package_is_named(package: Path, tmp_path: Path, damage, message: str) -> None:
    damage(package)
    with pytest.raises(InputFileError, match=message) as error:
        load_package(package, tmp_path)
    assert str(package) in str(error.value)


def test_not_a_package(tmp_path: Path) -> None:
    text = tmp_path / "weights.pt"
    text.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="neither a folder nor a zip"):
        load_package(text, tmp_path)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as handle:
        handle.writestr("../outside.txt", "x")
    with pytest.raises(InputFileError, match="outside the package"):
        load_package(evil, tmp_path)
    with pytest.raises(InputFileError, match="not found"):
        load_package(tmp_path / "missing", tmp_path)
