"""Fingerprints, ``dynbus compare`` and ``dynbus environment`` on real small files.

Two small results folders (real PNG frames, a real torch checkpoint, detection and table CSVs)
differ in known places; compare must name the first stage that differs and measure the
detection and table deltas. The whole-workflow test checks the two tiny runs of conftest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from dynbus import cli
from dynbus.detector import checkpoint
from dynbus.provenance import environment
from dynbus.provenance.compare import detection_delta, table_delta
from dynbus.provenance.fingerprint import fingerprint
from tests.detector_fixtures import write_inputs

DETECTIONS = pd.DataFrame(
    [
        ("s1", 0, 10.0, 10.0, 50.0, 40.0, 0.9),
        ("s1", 0, 60.0, 20.0, 80.0, 45.0, 0.3),
        ("s1", 1, 11.0, 10.0, 51.0, 40.0, 0.8),
        ("s2", 0, 5.0, 5.0, 25.0, 25.0, 0.5),
    ],
    columns=["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"],
)
TABLE = pd.DataFrame(
    {
        "row": ["single", "multi", "χ²"],
        "0.1 FP/seq sens": ["73.7", "94.7", ""],
        "0.1 FP/seq FN": ["10", "2", "6.333"],
    }
)


def _results(root: Path) -> Path:
    """A small results folder: frames, annotations/splits, a detector, detections, a table."""
    data = write_inputs(root / "results", counts={"train": 1, "val": 1}, negatives=0, n_frames=2)
    results = data.frames.parent
    (results / "model").mkdir()
    torch.manual_seed(0)
    checkpoint.save(results / "model/detector.pt", {"model": torch.nn.Linear(3, 2).state_dict()})
    (results / "detections").mkdir()
    DETECTIONS.to_csv(results / "detections" / "test.csv", index=False)
    (results / "tables").mkdir()
    TABLE.to_csv(results / "tables" / "table1.csv", index=False)
    return results


@pytest.fixture()
def runs(tmp_path: Path) -> tuple[Path, Path]:
    first = _results(tmp_path / "a")
    second = tmp_path / "b" / "results"
    shutil.copytree(first, second)
    return first, second


def test_fingerprint_covers_each_stage_and_ignores_the_checkpoint_save_id(runs) -> None:
    first, second = runs
    # saved again: a new temp file name and serialization id, the same weights
    torch.manual_seed(0)
    checkpoint.save(second / "model" / "detector.pt", {"model": torch.nn.Linear(3, 2).state_dict()})
    assert (first / "model/detector.pt").read_bytes() != (second / "model/detector.pt").read_bytes()
    a, b = fingerprint(first), fingerprint(second)
    assert list(a["stages"]) == ["frames", "annotations", "split", "train", "infer", "tables"]
    assert "frames/val00/000001.png" in a["stages"]["frames"]["files"]
    assert a == b
    checkpoint.save(second / "model" / "detector.pt", {"model": torch.nn.Linear(3, 2).state_dict()})
    assert fingerprint(second)["stages"]["train"] != a["stages"]["train"]


def test_compare_names_the_first_stage_that_differs_and_the_deltas(runs, capsys) -> None:
    first, second = runs
    frame = second / "frames" / "val00" / "000001.png"
    pixels = np.array(Image.open(frame))
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(frame)
    changed = DETECTIONS.copy()
    changed.loc[0, ["x2", "score"]] = [50.2, 0.85]  # IoU 0.995 with the original, score -0.05
    changed.loc[1, "x1"] = 70.0  # IoU 0.5: no longer the same box
    changed.to_csv(second / "detections" / "test.csv", index=False)
    table = TABLE.copy()
    table.loc[1, "0.1 FP/seq sens"] = "92.1"
    table.to_csv(second / "tables" / "table1.csv", index=False)

    assert cli.main(["compare", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert "frames       differs (1 of 6 files changed, e.g. frames/val00/000001.png)" in out
    assert "split        same" in out
    assert "first stage that differs: frames" in out
    assert "4 vs 4 boxes, 3 matched at IoU >= 0.99; score delta max 0.05000" in out
    assert "multi | 0.1 FP/seq sens: 94.7 -> 92.1 (-2.6)" in out

    delta = detection_delta(first / "detections/test.csv", second / "detections/test.csv")
    assert delta.matched == 3
    assert delta.mean_score_delta == pytest.approx(0.05 / 3)
    cells = table_delta(first / "tables/table1.csv", second / "tables/table1.csv")
    assert [(c.row, c.column, c.delta) for c in cells] == [
        ("multi", "0.1 FP/seq sens", pytest.approx(-2.6))
    ]


def test_fingerprint_has_each_fold_of_a_cross_validation(runs) -> None:
    first, _ = runs
    for fold in ("1", "2", "10"):
        (first / "folds" / fold / "model").mkdir(parents=True)
        shutil.copy(first / "model/detector.pt", first / "folds" / fold / "model/detector.pt")
        shutil.copytree(first / "tables", first / "folds" / fold / "tables")
    stages = fingerprint(first)["stages"]
    assert [name for name in stages if "fold" in name] == [
        "train fold 1", "tables fold 1", "train fold 2", "tables fold 2",
        "train fold 10", "tables fold 10",
    ]  # fmt: skip
    assert list(stages["train fold 10"]["files"]) == ["folds/10/model/detector.pt"]
    assert stages["train fold 1"]["digest"] != stages["train"]["digest"]  # paths are part of it


def test_compare_against_a_fingerprint_file(runs, tmp_path, capsys) -> None:
    first, second = runs
    saved = tmp_path / "stages.json"
    assert cli.main(["fingerprint", "--results", str(first), "--out", str(saved)]) == 0
    assert cli.main(["compare", str(saved), str(second)]) == 0
    assert "all stages identical" in capsys.readouterr().out
    saved.write_text("{}", encoding="utf-8")
    assert cli.main(["compare", str(saved), str(second)]) == 2
    assert "not a dynbus fingerprint" in capsys.readouterr().err


def test_environment_records_cpu_torch_packages_and_git(tmp_path, monkeypatch, request) -> None:
    for name in environment.REPRODUCIBILITY_ENV:  # the pin sets them: undone after the test
        monkeypatch.delenv(name, raising=False)
    # and turns oneDNN and NNPACK off in this process: restored for the tests after this one
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", torch.backends.mkldnn.enabled)
    request.addfinalizer(partial(torch.backends.nnpack.set_flags, torch._C._get_nnpack_enabled()))
    out = tmp_path / "provenance" / "environment.json"
    assert cli.main(["environment", "--out", str(out), "--repo", str(tmp_path)]) == 0
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["packages"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert record["torch"]["cpu_capability_used"] == torch.backends.cpu.get_cpu_capability()
    assert record["torch"]["intra_op_threads"] == 2  # reproducibility.threads default
    assert record["torch"]["mkldnn_enabled"] is False  # reproducibility.portable default
    assert record["git"] == {"commit": None, "dirty": None}  # not a repository
    table = pd.read_csv(out.with_suffix(".csv"))
    assert set(table["section"]) >= {"cpu", "torch", "python", "git", "packages"}
    assert "| cpu | isa_detected |" in out.with_suffix(".md").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_environment_reports_commit_and_dirty_tree(tmp_path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1", encoding="utf-8")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    assert environment.git(tmp_path) == {"commit": git("rev-parse", "HEAD"), "dirty": False}
    (tmp_path / "a.txt").write_text("2", encoding="utf-8")
    assert environment.git(tmp_path)["dirty"] is True


def test_isa_level_from_cpu_flags() -> None:
    assert environment.isa_level({"avx", "avx2", "fma"}) == "AVX2"
    assert (
        environment.isa_level({"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"})
        == "AVX512"
    )
    assert environment.isa_level({"sse4_2"}) == "baseline"


def test_workflow_runs_fingerprint_identically_and_records_the_environment(
    tiny_runs, capsys
) -> None:
    first, second = tiny_runs
    stages = json.loads((first / "results/fingerprints/stages.json").read_text(encoding="utf-8"))
    assert {"frames", "train", "infer", "tables"} <= set(stages["stages"])
    assert cli.main(["compare", str(first / "results"), str(second / "results")]) == 0
    assert "all stages identical" in capsys.readouterr().out
    env = json.loads((first / "results/provenance/environment.json").read_text(encoding="utf-8"))
    assert env["reproducibility"]["env"]["ATEN_CPU_CAPABILITY"] == "avx2"


def test_the_simulated_raw_study_is_the_first_stage_and_older_references_lack_it(
    runs, tmp_path, capsys
) -> None:
    first, second = runs
    raw = tmp_path / "raw"
    (raw / "DOE^JANE_1234567").mkdir(parents=True)
    (raw / "DOE^JANE_1234567" / "20240101_0001.dcm").write_bytes(b"cine one")
    (raw / "annotations.csv").write_text("file,frame\n", encoding="utf-8")
    (raw / ".snakemake_timestamp").touch()  # Snakemake's mark in a directory() output
    stages = fingerprint(first, raw)["stages"]
    assert list(stages)[0] == "simulate"
    assert list(stages["simulate"]["files"]) == ["raw/0001.dcm", "raw/0002.csv"]  # no names
    saved, older, changed = (tmp_path / f"{name}.json" for name in ("saved", "older", "changed"))
    assert (
        cli.main(["fingerprint", "--results", str(first), "--raw", str(raw), "--out", str(saved)])
        == 0
    )
    reference = json.loads(saved.read_text(encoding="utf-8"))
    del reference["stages"]["simulate"]
    older.write_text(json.dumps(reference), encoding="utf-8")  # written before the stage existed
    (raw / "DOE^JANE_1234567" / "20240101_0001.dcm").write_bytes(b"cine one, one bit off")
    assert (
        cli.main(
            ["fingerprint", "--results", str(second), "--raw", str(raw), "--out", str(changed)]
        )
        == 0
    )
    capsys.readouterr()

    assert cli.main(["compare", str(saved), str(changed)]) == 0
    out = capsys.readouterr().out
    assert "simulate     differs (1 of 2 files changed, e.g. raw/0001.dcm)" in out
    assert "first stage that differs: simulate" in out
    assert "DOE" not in saved.read_text(encoding="utf-8")
    assert cli.main(["compare", str(older), str(changed)]) == 0
    out = capsys.readouterr().out
    assert "simulate     not in the reference (run A)" in out
    assert "all stages identical (not in the reference: simulate)" in out
