"""The ``dynbus`` command: one subcommand per pipeline stage, each importable and runnable alone.

Stage modules are imported only when their subcommand runs, so a data stage never pays for
torch. Each stage module provides ``get_args_parser() -> argparse.ArgumentParser`` and
``main(args: argparse.Namespace) -> None`` (torchvision reference style).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dynbus.batch import set_threads
from dynbus.errors import DynbusError

STAGES: dict[str, tuple[str, str]] = {
    "simulate": (
        "dynbus.simulate.cli",
        "write synthetic breast-ultrasound cine DICOM + annotations",
    ),
    "manifest": ("dynbus.ingest.manifest", "list the raw sequences and give them keyed pseudonyms"),
    "deidentify": ("dynbus.deid.cli", "de-identify one DICOM file (PS3.15 E.1-1, clean pixels)"),
    "frames": ("dynbus.ingest.frames", "split one de-identified cine into 8-bit gray PNG frames"),
    "prepare": (
        "dynbus.ingest.prepare",
        "deidentify + frames for many sequences in one process (the workflow's data stage)",
    ),
    "collect-prepared": (
        "dynbus.ingest.collect_prepared",
        "the manifest of the sequences prepare wrote, and a report of those that failed",
    ),
    "annotations": ("dynbus.ingest.annotations", "re-key and validate the raw box annotations"),
    "import": (
        "dynbus.ingest.sources.importer",
        "read COCO-VID / video / CVAT data into the manifests",
    ),
    "import-frames": (
        "dynbus.ingest.sources.import_frames",
        "one imported sequence -> clean PNG frames",
    ),
    "duplicates": (
        "dynbus.dataset.duplicates",
        "find near-duplicate frames across sequences (leakage)",
    ),
    "split": ("dynbus.dataset.split", "patient-disjoint train / val / test split"),
    "train": ("dynbus.detector.train", "train the Faster R-CNN detector"),
    "infer": ("dynbus.detector.infer", "run the detector on every frame of a split"),
    "evaluate": ("dynbus.protocol.evaluate", "single- vs multi-frame FROC evaluation and counts"),
    "video-metrics": (
        "dynbus.metrics.video_metrics",
        "the field's video metrics (AP50, R@16, FP@R) with bootstrap CIs",
    ),
    "ablation": ("dynbus.metrics.ablation", "multi-frame fusion variants vs the paper's rule"),
    "subgroups": (
        "dynbus.protocol.subgroups",
        "sensitivity by lesion size (mm), scanner and frame rate, with the gain's test",
    ),
    "pool": ("dynbus.protocol.pooling", "pool k-fold cross-validation results over the folds"),
    "tables": ("dynbus.reporting.tables", "render the paper's Tables 1-2 from counts.csv"),
    "plots": ("dynbus.reporting.plots", "FROC plots with bootstrap bands"),
    "forest": (
        "dynbus.reporting.forest",
        "forest plot of the multi-frame gain per subgroup, and the subgroup table (HTML)",
    ),
    "headline": (
        "dynbus.reporting.headline",
        "the report's opening: one sentence, Tables 1-2 and the FROC figure (HTML fragment)",
    ),
    "figures": (
        "dynbus.reporting.figures",
        "qualitative figure: TP / FP / FN boxes on test frames",
    ),
    "overlays": (
        "dynbus.reporting.overlays",
        "per test sequence, a video of ground truth, detections and fused groups",
    ),
    "frozen-tables": (
        "dynbus.reporting.frozen",
        "test results at thresholds re-set on test (paper) and frozen on val",
    ),
    "operating-points": (
        "dynbus.model.operating_points",
        "score thresholds chosen on val, applied unchanged to test",
    ),
    "external-model": (
        "dynbus.model.external_model",
        "external validation: the detector, config and frozen thresholds of a model package",
    ),
    "external-points": (
        "dynbus.model.external_points",
        "external validation: a package's frozen thresholds applied to another site's data",
    ),
    "external-froc": (
        "dynbus.reporting.external_froc",
        "external validation: development and external FROC curves on one figure",
    ),
    "package": (
        "dynbus.model.build",
        "the model package: weights, model.yaml, MONAI-style metadata, the model card",
    ),
    "predict": (
        "dynbus.model.predict",
        "run a model package on new DICOM / video cine loops: detections, candidates, overlays",
    ),
    "runinfo": (
        "dynbus.provenance.runinfo",
        "the run's resolved configuration and software versions",
    ),
    "timings": ("dynbus.provenance.timings", "summarize the Snakemake benchmark files per rule"),
    "fingerprint": ("dynbus.provenance.fingerprint", "sha256 fingerprint of every stage's outputs"),
    "compare": (
        "dynbus.provenance.compare",
        "which stage of two runs first differs, and by how much",
    ),
    "environment": (
        "dynbus.provenance.environment",
        "record CPU/ISA, threads, GPU, packages, git commit",
    ),
    "probe": (
        "dynbus.provenance.probe",
        "hash a fixed training step: do this CPU's kernels match?",
    ),
    "config-reference": (
        "dynbus.config_reference",
        "write the configuration reference (Markdown) generated from the schema",
    ),
}


# Stages whose --threads / --workers are forked processes, each with single-threaded libraries.
PROCESS_PARALLEL = {"manifest", "prepare", "duplicates"}


def _usage() -> str:
    width = max(len(name) for name in STAGES)
    lines = ["usage: dynbus <stage> [options]   (dynbus <stage> --help for a stage's options)", ""]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in STAGES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``dynbus <stage> ...`` to the stage module's parser and ``main``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    if argv[0] == "--version":
        from dynbus import __version__

        print(__version__)
        return 0
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(f"dynbus: unknown stage {stage!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    if stage in PROCESS_PARALLEL:
        set_threads(1)  # before numpy loads its BLAS: N worker processes x N BLAS threads thrash
    module = importlib.import_module(STAGES[stage][0])
    parser: argparse.ArgumentParser = module.get_args_parser()
    parser.prog = f"dynbus {stage}"
    args = parser.parse_args(rest)
    try:
        module.main(args)
    except DynbusError as error:
        print(f"dynbus {stage}: {error.kind}: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
