"""``dynbus predict`` on the tiny study's raw files through a package of its trained detector.

The package is built here from the tiny workflow's ``detector.pt`` and made-up operating points;
predict must reproduce the study's test detections byte for byte, keep patient data out of its
outputs, give the same bytes twice, and report bad inputs in one line or list them.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from dynbus import cli
from dynbus.config import validate
from dynbus.deid.pseudonyms import file_pseudonym, read_key
from dynbus.model.package import OperatingPoint, model_yaml, write_package
from tests.conftest import TINY, tiny_config
from tests.phi import phi_found_under, planted_phi

SEED = tiny_config()["simulate"]["seed"]
POINTS = [
    OperatingPoint("single", 0.1, 0.6),
    OperatingPoint("multi", 0.1, 0.5),
    OperatingPoint("multi", 1.0, 0.2),
]
DECISIONS = ["single@0.1", "multi@0.1", "multi@1"]


@pytest.fixture(scope="module")
def package(tiny_runs, tmp_path_factory) -> Path:
    """A package of the demo run's detector with the run's config and made-up thresholds."""
    _, demo = tiny_runs
    out = tmp_path_factory.mktemp("package") / "package"
    content = model_yaml(validate(tiny_config()), POINTS, {"dynbus_version": "test"})
    write_package(out, demo / "results/model/detector.pt", content, {})
    return out


def predict(package: Path, *args: str | Path) -> int:
    return cli.main(["predict", str(package), *map(str, args), "--device", "cpu", "--workers", "0"])


def test_predict_reproduces_the_study_test_detections(package, tiny_runs, tmp_path):
    _, demo = tiny_runs
    manifest = pd.read_csv(demo / "linkage/manifest.csv")
    splits = pd.read_csv(demo / "results/splits.csv")
    test = set(splits.loc[splits["split"] == "test", "sequence_id"])
    files = [
        demo / "demo/raw" / f for f in manifest.loc[manifest["sequence_id"].isin(test), "file"]
    ]
    assert predict(package, *files, "--out", tmp_path / "out", "--key", demo / "demo/key.hex") == 0
    detections = (tmp_path / "out/detections.csv").read_bytes()
    assert detections == (demo / "results/detections/test.csv").read_bytes()
    linkage = pd.read_csv(tmp_path / "out/private/linkage.csv", keep_default_na=False)
    by_file = dict(zip(linkage["file"], linkage["sequence_id"], strict=True))
    for row in manifest[manifest["sequence_id"].isin(test)].itertuples():
        assert by_file[str((demo / "demo/raw" / row.file).resolve())] == row.sequence_id


def test_outputs_carry_no_patient_data_and_repeat_byte_for_byte(package, tiny_study, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    patient = sorted(p for p in tiny_study.raw.iterdir() if p.is_dir())[0]  # names in its paths
    assert predict(package, patient, "--out", first) == 0
    key = first / "private/key.hex"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((first / "private").stat().st_mode) == 0o700
    assert predict(package, patient, "--out", second, "--key", key) == 0
    public = sorted(
        p.relative_to(first) for p in first.rglob("*") if p.is_file() and "private" not in p.parts
    )
    assert {p.as_posix() for p in public} >= {
        "detections.csv", "candidates.csv", "candidate_boxes.csv", "summary.csv", "index.html",
        "skipped.csv",
    }  # fmt: skip
    for path in public:
        assert (first / path).read_bytes() == (second / path).read_bytes(), path
    needles = planted_phi(tiny_study.raw, SEED, TINY["simulate"]["patients"])
    assert phi_found_under(first, needles, skip=["private"]) == []
    assert phi_found_under(first / "private", needles), "the private linkage names the raw files"
    summary = pd.read_csv(first / "summary.csv")
    candidates = pd.read_csv(first / "candidates.csv")
    assert list(summary.columns[-4:]) == [*DECISIONS, "video"]
    # a key of its own: other pseudonyms than the study's, the same files in each sequence
    linkage = pd.read_csv(first / "private/linkage.csv", keep_default_na=False)
    linkage = linkage[linkage["problem"] == ""]
    assert summary["sequence_id"].tolist() == sorted(set(linkage["sequence_id"]))
    manifest = pd.read_csv(tiny_study.own_data / "linkage/manifest.csv")
    study = manifest[manifest["file"].str.startswith(f"{patient.name}/")]
    raw = tiny_study.raw.resolve()
    grouped = linkage.assign(file=[Path(f).relative_to(raw).as_posix() for f in linkage["file"]])
    assert _sequences(grouped) == _sequences(study)
    assert (summary["candidates"] == candidates.groupby("sequence_id").size()
            .reindex(summary["sequence_id"], fill_value=0).to_numpy()).all()  # fmt: skip
    assert all((first / video).is_file() for video in summary["video"])
    for name in DECISIONS:  # a sequence is positive when one of its candidates is
        positive = candidates.groupby("sequence_id")[name].any()
        assert (summary.set_index("sequence_id")[name] == positive.reindex(
            summary["sequence_id"], fill_value=False)).all()  # fmt: skip
    assert pd.read_csv(first / "skipped.csv").empty


def _sequences(files: pd.DataFrame) -> set[frozenset[str]]:
    """The files of each sequence (``file``, ``sequence_id`` columns), whatever the pseudonyms."""
    return {frozenset(part["file"]) for _, part in files.groupby("sequence_id")}


@pytest.fixture
def bad_inputs(tiny_study, tmp_path) -> tuple[Path, Path, Path]:
    """One good DICOM, a truncated copy of it and a text file posing as a video."""
    good = sorted(tiny_study.raw.rglob("*.dcm"))[0]
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(good, folder / "good.dcm")
    data = good.read_bytes()
    (folder / "corrupt.dcm").write_bytes(data[: len(data) // 2])
    (folder / "clip.mp4").write_text("not a video\n")
    return folder / "good.dcm", folder / "corrupt.dcm", folder / "clip.mp4"


@pytest.mark.parametrize("which", [1, 2])
def test_a_bad_input_is_one_line_naming_the_file(package, bad_inputs, which, tmp_path, capfd):
    out = tmp_path / "out"
    assert predict(package, bad_inputs[0], bad_inputs[which], "--out", out) == 2
    lines = capfd.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("dynbus predict: error: ")
    assert str(bad_inputs[which]) in lines[-1]
    assert "Traceback" not in "".join(lines)
    assert not out.exists()


def test_bad_inputs_are_skipped_and_listed(package, bad_inputs, tmp_path):
    good, corrupt, video = bad_inputs
    out = tmp_path / "out"
    assert predict(package, *bad_inputs, "--out", out, "--on-bad-input", "skip") == 0
    key = read_key(out / "private/key.hex")
    skipped = pd.read_csv(out / "skipped.csv")
    assert sorted(skipped["file_id"]) == sorted(
        file_pseudonym(key, name) for name in ("corrupt.dcm", "clip.mp4")
    )
    assert skipped["problem"].str.len().gt(0).all()
    assert not skipped["problem"].str.contains(str(video.parent)).any()  # no raw path
    assert len(pd.read_csv(out / "summary.csv")) == 1
    linkage = pd.read_csv(out / "private/linkage.csv", keep_default_na=False)
    left_out = {str(corrupt.resolve()), str(video.resolve())}
    assert set(linkage.loc[linkage["problem"] != "", "file"]) == left_out
