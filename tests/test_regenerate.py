"""Every file under results/ of a finished run is a declared output or lies in a declared folder
output, and deleting a declared file makes Snakemake schedule the rule that writes it (dry runs
over the tiny run; files are put back). Files inside folder outputs (``results/frames``,
``deid``, ``audit``, ``overlays/videos``, the prepared shards) are exempt: Snakemake tracks the
folder, so deleting one file inside it is not noticed (docs/cluster.md: a measured trade)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_workflow


def scheduled(workdir: Path) -> set[str]:
    """The rules a dry run in ``workdir`` would run (its "Job stats" table)."""
    result = run_workflow(workdir, "--dry-run")
    assert result.returncode == 0, result.stderr[-4000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return set()
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {line.split()[0] for line in table.splitlines()[3:] if line.strip()}


@contextlib.contextmanager
def deleted(workdir: Path, names: list[str], aside: Path) -> Iterator[None]:
    """Move ``names`` out of ``workdir`` into ``aside`` for the block, then back (same times)."""
    moved = []
    try:
        for k, name in enumerate(names):
            (aside / str(k)).mkdir(parents=True)
            os.replace(workdir / name, aside / str(k) / "file")
            moved.append((aside / str(k) / "file", workdir / name))
        yield
    finally:
        for source, target in moved:
            os.replace(source, target)


def test_every_file_under_results_is_a_declared_output(tiny_runs):
    _, first = tiny_runs  # the demo run: its config.yaml lies in its work folder
    result = run_workflow(first, "--detailed-summary")
    assert result.returncode == 0, result.stderr[-4000:]
    declared = {line.split("\t")[0] for line in result.stdout.splitlines()[1:]}
    folders = {Path(path) for path in declared if (first / path).is_dir()}
    files = [path.relative_to(first) for path in (first / "results").rglob("*") if path.is_file()]
    assert len(files) > 30
    undeclared = [
        str(path) for path in files if str(path) not in declared and not folders & set(path.parents)
    ]
    # The training state is kept out of Snakemake's hands on purpose (resumable training).
    assert undeclared == ["results/model/resume/state.pt"]


@pytest.mark.parametrize(
    "names, rules",
    [
        (["results/eval/counts.csv"], {"evaluate", "tables", "plots", "figures"}),
        (["results/detections/test.coco.json"], {"infer"}),
        (["results/reports/skipped_inputs.csv"], {"manifest"}),
        # Outputs nothing else reads: deleted together, exactly their rules rerun (and timings and
        # fingerprint, which read every output, and the model package, which holds the latter).
        (
            [
                "results/tables/extended.md",
                "results/plots/froc_iou0.5.pdf",
                "results/figures/examples.png",
                "results/reports/config.yaml",
            ],
            {"tables", "plots", "figures", "run_info", "timings", "fingerprint", "package"},
        ),
    ],
    ids=["counts", "coco", "skipped", "leaves"],
)
def test_deleting_outputs_schedules_their_rules(tiny_runs, tmp_path, names, rules):
    _, first = tiny_runs  # the demo run: its config.yaml lies in its work folder
    with deleted(first, names, tmp_path):
        jobs = scheduled(first)
    assert rules <= jobs
    if len(names) > 1:
        assert jobs <= rules | {"all"}
