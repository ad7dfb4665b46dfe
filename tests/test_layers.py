"""The package's layers import only downward (docs/architecture.md, "Layers").

Each subpackage (or top-level module) of ``src/dynbus`` has a rank; a module may import from its
own layer or from a lower rank, never from a higher one. Parsed with :mod:`ast`, so a lazy import
inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dynbus"

# bottom to top; one rank per layer (docs/architecture.md)
LAYERS: dict[str, int] = {
    "errors": 0,
    "exactmath": 0,
    "config": 0,
    "batch": 0,
    "io": 1,
    "deid": 2,
    "ingest": 3,
    "simulate": 3,
    "dataset": 4,
    "detector": 5,
    "protocol": 6,
    "metrics": 7,
    "reporting": 8,
    "provenance": 9,
    "model": 10,
    "config_reference": 11,
    "cli": 11,
    "__main__": 12,
}


def _layer(module: str) -> str:
    """``dynbus.ingest.frames`` -> ``ingest``; ``dynbus.__version__`` ranks with ``errors``."""
    parts = module.split(".")
    return "errors" if len(parts) < 2 or parts[1].startswith("__") else parts[1]


def imports_of(path: Path) -> list[str]:
    """Every ``dynbus`` module a file imports (module-level or inside a function)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dynbus"):
            if node.module == "dynbus":
                found += [f"dynbus.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("dynbus")]
    return found


def upward_imports(package: Path) -> list[str]:
    """``importer -> imported`` for every import that points to a higher layer."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts == ("__init__",):
            continue
        mine = LAYERS[parts[0]]
        for module in imports_of(path):
            if LAYERS[_layer(module)] > mine:
                bad.append(f"{'/'.join(parts)} -> {module}")
    return bad


def test_every_layer_has_a_rank() -> None:
    tops = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.parent.name for p in PACKAGE.glob("*/__init__.py")
    }
    assert tops - {"__init__"} == set(LAYERS)


def test_imports_point_only_downward() -> None:
    assert upward_imports(PACKAGE) == []


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    """The check itself: a planted import from the io layer into reporting is reported."""
    (tmp_path / "io").mkdir()
    (tmp_path / "io" / "atomic.py").write_text(
        "def f():\n    from dynbus.reporting.tables import main\n"
    )
    (tmp_path / "reporting").mkdir()
    (tmp_path / "reporting" / "tables.py").write_text("from dynbus.io.atomic import f\n")
    assert upward_imports(tmp_path) == ["io/atomic -> dynbus.reporting.tables"]


@pytest.mark.parametrize("layer", sorted(n for n in LAYERS if (PACKAGE / n).is_dir()))
def test_each_subpackage_says_what_it_owns(layer: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
    assert doc and len(doc.split()) >= 12, f"{layer}/__init__.py needs a docstring"
