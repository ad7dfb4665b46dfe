"""The locked install and the per-rule conda envs.

requirements.lock pins every Python dependency with hashes; the venv holds exactly it; every rule
names an env in envs/ whose pins equal the lock's, and each env holds every third-party package
its rules' `dynbus` stages import. Conda channels are out of reach here, so the envs are checked
against the lock instead of being built.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dynbus.cli import STAGES

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "envs"
LOCK = ROOT / "requirements.lock"
SRC = ROOT / "src"
# conda-forge names that differ from the Python distribution's name.
CONDA_TO_PYPI = {"pytorch": "torch"}
# Packages of the workflow engine: they run in the host environment, not in a rule's env.
HOST_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}


@cache
def parse_lock() -> dict[str, str]:
    """Canonical distribution name -> exact version pinned in requirements.lock."""
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def parse_env(path: Path) -> dict[str, str]:
    """Canonical distribution name -> exact version pinned in a conda env file (conda + pip)."""
    env = yaml.safe_load(path.read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"], f"{path.name}: channels"
    pins: dict[str, str] = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                name, sep, version = line.partition("==")
                assert sep and version, f"{path.name}: pip entry {line!r} is not pinned with =="
                pins[canonicalize_name(name)] = version
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)=([0-9][^=*\s]*)", entry)
        assert match, f"{path.name}: {entry!r} is not an exact pin name=version"
        name = CONDA_TO_PYPI.get(match[1], match[1])
        pins[canonicalize_name(name)] = match[2]
    return pins


@cache
def workflow_rules() -> dict[str, tuple[Path | None, str]]:
    """Rule name -> (resolved conda env file or None, shell command), parsed by Snakemake."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(), snakefile=ROOT / "Snakefile", workdir=ROOT
        )._workflow
        rules = {}
        for rule in workflow.rules:
            env = rule.conda_env
            path = (Path(rule.snakefile).parent / env).resolve() if env else None
            rules[rule.name] = (path, rule.shellcmd or "")
    return rules


def stage_of(shellcmd: str) -> str | None:
    """The `dynbus <stage>` a rule's shell command runs, if any."""
    match = re.search(r"\bdynbus\s+([a-z_-]+)", shellcmd)
    return match[1] if match else None


@cache
def third_party_imports(module: str) -> frozenset[str]:
    """Top-level non-stdlib modules that ``module`` and the dynbus modules it uses import.

    Imports inside functions count (torch stages import lazily).
    """
    seen: set[str] = set()
    found: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = SRC.joinpath(*name.split("."))
        is_package = (path / "__init__.py").is_file()
        source = path / "__init__.py" if is_package else path.with_suffix(".py")
        if not source.is_file():  # `from dynbus.x import y` where y is no module
            continue
        tree = ast.parse(source.read_text(), str(source))
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                top = target.split(".")[0]
                if top == "dynbus":
                    todo.append(target)
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return frozenset(found)


@cache
def _module_providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(top_level: str) -> set[str]:
    """Canonical names of the installed distributions that provide an importable module."""
    providers = _module_providers().get(top_level, [])
    assert providers, f"no installed distribution provides module {top_level!r}"
    return {canonicalize_name(dist) for dist in providers}


ENV_FILES = sorted(ENVS.glob("*.yaml"))


def test_the_three_stage_families_have_an_env():
    assert {path.stem for path in ENV_FILES} >= {"dicom", "torch", "stats"}


def test_every_rule_that_runs_a_tool_names_an_existing_env():
    rules = workflow_rules()
    assert rules, "the workflow defines no rule"
    for name, (env, shellcmd) in rules.items():
        if not shellcmd:
            continue  # aggregate rules (all) run nothing
        assert env is not None, f"rule {name} has no conda: directive"
        assert env.is_file(), f"rule {name}: conda env {env} does not exist"
        assert env.parent == ENVS, f"rule {name}: conda env {env} is not under envs/"


def test_every_lock_entry_is_pinned_with_hashes():
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", LOCK.read_text())
    pinned = [entry for entry in entries if re.match(r"[A-Za-z0-9_.-]+==", entry)]
    assert len(pinned) == len(parse_lock()) > 50
    for entry in pinned:
        assert "--hash=sha256:" in entry, f"requirements.lock: {entry.split()[0]} has no hash"


def test_the_venv_holds_exactly_the_lock():
    """Every pin installed at its version and nothing else, bar dynbus itself and the venv's pip
    (``python -m venv`` brings the pip of the host's Python; the lock pins no pip)."""
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
    }
    assert installed.keys() - parse_lock().keys() == {"dynbus", "pip"}
    assert {name: installed.get(name) for name in parse_lock()} == parse_lock()


def lock_python() -> str:
    """The Python minor version requirements.lock was compiled for, e.g. ``3.11``."""
    match = re.search(r"autogenerated by pip-compile with Python (\d+\.\d+)", LOCK.read_text())
    assert match, "requirements.lock does not say which Python it was compiled for"
    return match[1]


def test_the_host_runs_the_locks_python():
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == lock_python()


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda path: path.name)
def test_env_pins_equal_the_lock(env):
    lock = parse_lock()
    for name, pinned in parse_env(env).items():
        if name == "python":  # any patch release of the lock's Python (README: "Python 3.11")
            assert pinned.startswith(f"{lock_python()}."), f"{env.name}: python={pinned}"
            continue
        if name == "pip":  # the conda env's installer for its pip: section, not a dependency
            continue
        assert name in lock, f"{env.name}: {name} is not in requirements.lock"
        expected = lock[name]
        assert pinned == expected, f"{env.name}: {name}={pinned} but the lock pins {expected}"


def test_pins_satisfy_pyproject_and_cover_its_runtime_requirements():
    # pyproject.toml's [project] dependencies as installed (the editable dynbus in the venv).
    requirements = [
        requirement
        for requirement in map(Requirement, importlib.metadata.requires("dynbus") or [])
        if requirement.marker is None
    ]
    assert requirements, "dynbus declares no runtime requirement"
    pinned: dict[str, set[str]] = {}
    for env in ENV_FILES:
        for name, version in parse_env(env).items():
            pinned.setdefault(name, set()).add(version)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name in HOST_ONLY:
            continue
        assert name in pinned, f"pyproject requires {requirement} but no env in envs/ pins it"
        for version in pinned[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"envs pin {name}={version}, outside pyproject's {requirement}"
            )


def test_each_env_holds_what_its_rules_import():
    for name, (env, shellcmd) in workflow_rules().items():
        stage = stage_of(shellcmd)
        if stage is None:
            continue
        assert stage in STAGES, f"rule {name} runs unknown stage dynbus {stage}"
        pins = set(parse_env(env))
        for module in sorted(third_party_imports(STAGES[stage][0])):
            assert distributions_of(module) & pins, (
                f"rule {name} (dynbus {stage}) imports {module!r}, which {env.name} does not pin"
            )
