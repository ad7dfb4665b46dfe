"""The model package: one folder (and one archive) holding everything needed to use the detector.

The layout follows the MONAI bundle convention (``configs/``, ``models/``, ``docs/``), so that
medical-imaging users find the usual places::

    configs/model.yaml     format, the study's config sections the model needs, operating points
    configs/metadata.json  MONAI bundle metadata (versions, task, network inputs and outputs)
    models/model.pt        the detector checkpoint, the bytes ``dynbus train`` exported
    docs/README.md         the model card
    ...                    any further files the writer is given (provenance, operating points)

``model.yaml`` holds, verbatim, the resolved study configuration sections in
:data:`CONFIG_SECTIONS` (de-identification, architecture and input size, inference score floor,
single-frame pick, fusion, evaluation, kernels) and the frozen operating points: for each method
(``single``, ``multi``) and FP rate, the score threshold chosen on the validation split.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dynbus.errors import InputFileError
from dynbus.io.atomic import atomic_path

FORMAT = "dynbus-model/1"
CONFIG_SECTIONS = (
    "deid",
    "model",
    "infer",
    "single_frame",
    "fusion",
    "evaluate",
    "reproducibility",
)
MODEL_YAML = "configs/model.yaml"
WEIGHTS = "models/model.pt"
METHODS = ("single", "multi")
# Fixed archive timestamp (the zip format's earliest): the same package gives the same bytes.
ARCHIVE_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class OperatingPoint:
    """A frozen decision threshold: ``method`` at ``fp_rate`` FPs per sequence on val."""

    method: str
    fp_rate: float
    threshold: float


@dataclass(frozen=True)
class ModelPackage:
    """A loaded package: its folder, the study's config sections and the operating points."""

    root: Path
    config: dict[str, Any]
    operating_points: tuple[OperatingPoint, ...]
    meta: dict[str, Any]

    @property
    def weights(self) -> Path:
        """The detector checkpoint (load with ``dynbus.detector.checkpoint.load_detector``)."""
        return self.root / WEIGHTS

    def threshold(self, method: str, fp_rate: float) -> float:
        """The frozen threshold of ``method`` at ``fp_rate``."""
        for point in self.operating_points:
            if point.method == method and point.fp_rate == fp_rate:
                return point.threshold
        raise KeyError(f"no operating point for {method} at {fp_rate} FP/sequence")


def model_yaml(
    config: dict[str, Any], points: list[OperatingPoint], meta: dict[str, Any]
) -> dict[str, Any]:
    """The content of ``configs/model.yaml`` for a study ``config`` and its frozen ``points``."""
    missing = [name for name in CONFIG_SECTIONS if name not in config]
    if missing:
        raise ValueError(f"config lacks the sections {', '.join(missing)}")
    return {
        "format": FORMAT,
        **meta,
        "config": {name: config[name] for name in CONFIG_SECTIONS},
        "operating_points": [
            {"method": p.method, "fp_rate": p.fp_rate, "threshold": p.threshold} for p in points
        ],
    }


def write_package(
    out: Path,
    weights: Path,
    content: dict[str, Any],
    files: dict[str, Path | str | bytes],
) -> None:
    """Write the package folder ``out`` whole (temp folder, then rename; an old one is replaced).

    ``content`` is ``model.yaml`` (see :func:`model_yaml`); ``files`` maps further paths inside
    the package to a file to copy, a text or bytes.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "configs").mkdir()
        (tmp / "models").mkdir()
        shutil.copyfile(weights, tmp / WEIGHTS)
        (tmp / MODEL_YAML).write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        for name, value in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(value, Path):
                shutil.copyfile(value, target)
            elif isinstance(value, bytes):
                target.write_bytes(value)
            else:
                target.write_text(value, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_archive(folder: Path, archive: Path) -> None:
    """Zip ``folder`` into ``archive``: sorted names, fixed dates (same package, same bytes)."""
    folder = Path(folder)
    with atomic_path(archive) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), ARCHIVE_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            handle.writestr(info, path.read_bytes())


def _unpacked(path: Path, workdir: Path) -> Path:
    """The package folder: ``path`` itself, or its archive unpacked under ``workdir``."""
    if path.is_dir():
        return path
    if not zipfile.is_zipfile(path):
        raise InputFileError(path, "not a model package (neither a folder nor a zip archive)")
    target = workdir / "package"
    with zipfile.ZipFile(path) as handle:
        names = handle.namelist()
        if any(name.startswith("/") or ".." in Path(name).parts for name in names):
            raise InputFileError(path, "archive holds paths outside the package")
        handle.extractall(target)
    return target


def load_package(path: str | Path, workdir: Path) -> ModelPackage:
    """Read a package folder or archive (unpacked under ``workdir``); check its format."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "model package not found")
    root = _unpacked(path, Path(workdir))
    spec_file = root / MODEL_YAML
    if not spec_file.is_file():
        raise InputFileError(path, f"not a model package (no {MODEL_YAML})")
    try:
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InputFileError(path, f"{MODEL_YAML} is not valid YAML ({error})") from error
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise InputFileError(path, f"{MODEL_YAML}: format is not {FORMAT!r}")
    if not (root / WEIGHTS).is_file():
        raise InputFileError(path, f"not a model package (no {WEIGHTS})")
    config = spec.get("config") or {}
    missing = [name for name in CONFIG_SECTIONS if name not in config]
    if missing:
        raise InputFileError(path, f"{MODEL_YAML}: config lacks {', '.join(missing)}")
    try:
        points = tuple(
            OperatingPoint(str(p["method"]), float(p["fp_rate"]), float(p["threshold"]))
            for p in spec.get("operating_points") or []
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputFileError(path, f"{MODEL_YAML}: bad operating point ({error})") from error
    meta = {k: v for k, v in spec.items() if k not in {"config", "operating_points"}}
    return ModelPackage(root, config, points, meta)
