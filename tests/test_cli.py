"""The dynbus command: every stage answers --help alone; data stages never import torch.

``--help`` and an unknown stage are checked in-process through ``dynbus.cli.main`` (the parsing is
what is tested); the installed ``dynbus`` script, and the imports of a fresh interpreter, in
subprocesses.
"""

import subprocess
import sys

import pytest

from dynbus import cli
from dynbus.batch import THREAD_VARIABLES
from dynbus.cli import STAGES

DATA_STAGES = [
    "simulate",
    "manifest",
    "deidentify",
    "frames",
    "prepare",
    "collect-prepared",
    "annotations",
    "split",
]


@pytest.fixture()
def thread_caps_restored(monkeypatch):
    """Undo the thread caps ``cli.main`` sets for process-parallel stages after the test."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_each_stage_has_its_own_help(stage, capsys, thread_caps_restored):
    with pytest.raises(SystemExit) as exited:
        cli.main([stage, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: dynbus {stage}")


@pytest.mark.parametrize("stage", DATA_STAGES)
def test_data_stages_do_not_import_torch(stage):
    code = (
        "import importlib, sys; from dynbus.cli import STAGES; "
        f"importlib.import_module(STAGES[{stage!r}][0]).get_args_parser(); "
        "print(sorted(m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_unknown_stage_is_an_error(capsys):
    assert cli.main(["nonsense"]) == 2
    assert "unknown stage 'nonsense'" in capsys.readouterr().err


def test_the_version_lives_in_one_place():
    import importlib.metadata
    from pathlib import Path

    import yaml

    from dynbus import __version__

    citation = yaml.safe_load((Path(__file__).parents[1] / "CITATION.cff").read_text())
    printed = subprocess.run(["dynbus", "--version"], capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == __version__
    assert importlib.metadata.version("dynbus") == __version__
    assert str(citation["version"]) == __version__
