"""Manifest: sequences found in a raw folder, keyed pseudonyms, single-frame series, bad files."""

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from pydicom.uid import generate_uid

from dynbus.deid.pseudonyms import load_or_create_key
from dynbus.ingest.manifest import BadInputs, build_manifest
from tests.dicom_factory import make_us, pattern, save


def raw_study(raw: Path) -> None:
    """Two multi-frame cines of one patient, one of another, and a 3-file single-frame series."""
    save(
        make_us(pattern(5, 48, 64, 1, 255, 0), patient_id="ANNA-MUELLER-77"),
        raw / "MUELLER^ANNA" / "cine1.dcm",
    )
    save(
        make_us(pattern(7, 48, 64, 1, 255, 1), patient_id="ANNA-MUELLER-77"),
        raw / "MUELLER^ANNA" / "cine2.dcm",
    )
    series = generate_uid()
    for position, number in enumerate([3, 1, 2]):
        ds = make_us(
            pattern(1, 48, 64, 1, 255, 2 + position)[0],
            patient_id="BERT-KLEIN-12",
            series_uid=series,
            multiframe=False,
        )
        ds.InstanceNumber = number
        save(ds, raw / "KLEIN^BERT" / f"img{position}.dcm")
    (raw / "annotations.csv").write_text("file,frame,lesion_id,x1,y1,x2,y2\n")


@pytest.fixture()
def raw(tmp_path) -> Path:
    raw_study(tmp_path / "raw")
    return tmp_path / "raw"


def test_sequences_patients_and_frame_offsets(raw, tmp_path):
    key = load_or_create_key(tmp_path / "key.hex")
    private, public, skipped = build_manifest(raw, key, "error")
    assert len(public) == 3 and public["patient_id"].nunique() == 2
    assert list(skipped["file"]) == ["annotations.csv"]  # listed, never read as DICOM
    series = private[private["file"].str.startswith("KLEIN")]
    assert series["sequence_id"].nunique() == 1
    ordered = series.sort_values("position")
    assert list(ordered["file"]) == [
        "KLEIN^BERT/img1.dcm",
        "KLEIN^BERT/img2.dcm",
        "KLEIN^BERT/img0.dcm",
    ]
    assert list(ordered["frame_offset"]) == [0, 1, 2]
    assert sorted(public["n_frames"]) == [3, 5, 7]
    again = build_manifest(raw, key, "error")[1]
    pd.testing.assert_frame_equal(public, again)
    other_key = load_or_create_key(tmp_path / "other.hex")
    assert set(build_manifest(raw, other_key, "error")[1]["sequence_id"]).isdisjoint(
        public["sequence_id"]
    )


def test_bad_file_is_an_error_naming_it_or_a_skip_report(raw, tmp_path):
    (raw / "KLEIN^BERT" / "broken.dcm").write_text("not dicom at all")
    key = load_or_create_key(tmp_path / "key.hex")
    record = tmp_path / "linkage" / "problems.csv"
    with pytest.raises(BadInputs, match=r"^raw file 1/7 \(see .*problems.csv\): not a DICOM file"):
        build_manifest(raw, key, "error", record=record)
    assert "KLEIN^BERT/broken.dcm" in record.read_text()
    assert record.stat().st_mode & 0o777 == 0o600
    _, public, skipped = build_manifest(raw, key, "skip")
    assert len(public) == 3
    assert list(skipped["file"]) == ["KLEIN^BERT/broken.dcm", "annotations.csv"]
    assert list(skipped["handle"]) == ["1/7", "7/7"]
    assert skipped["file_id"].str.match(r"^F[0-9a-f]{10}$").all()


def test_cli_keeps_raw_names_out_of_the_public_files(raw, tmp_path):
    (raw / "KLEIN^BERT" / "broken.dcm").write_bytes(b"\0" * 300)
    out = tmp_path / "results"
    subprocess.run(
        [
            "dynbus",
            "manifest",
            str(raw),
            "--key",
            str(tmp_path / "linkage" / "key.hex"),
            "--private",
            str(tmp_path / "linkage" / "manifest.csv"),
            "--out",
            str(out / "manifest.csv"),
            "--skipped",
            str(out / "skipped.csv"),
            "--links",
            str(tmp_path / "linkage" / "raw"),
            "--config",
            '{"on_bad_input": "skip"}',
        ],
        check=True,
        capture_output=True,
    )
    for path in [tmp_path / "linkage", *(tmp_path / "linkage").rglob("*")]:
        if not path.is_symlink():
            assert path.stat().st_mode & 0o077 == 0, path
    private = (tmp_path / "linkage" / "manifest.csv").read_text()
    problems = (tmp_path / "linkage" / "problems.csv").read_text()
    assert "MUELLER" in private and "broken.dcm" in problems
    for public in out.iterdir():
        text = public.read_text()
        for phi in ("MUELLER", "KLEIN", "ANNA-MUELLER-77", "BERT-KLEIN-12", "broken", "cine1"):
            assert phi not in text, (public.name, phi)
    assert len(pd.read_csv(out / "skipped.csv")) == 2  # broken.dcm, annotations.csv


def test_cli_error_names_the_file(raw, tmp_path):
    ds = make_us(pattern(2, 48, 64, 1, 255, 9), patient_id="")
    save(ds, raw / "KLEIN^BERT" / "nopatient.dcm")
    result = subprocess.run(
        [
            "dynbus",
            "manifest",
            str(raw),
            "--key",
            str(tmp_path / "key.hex"),
            "--private",
            str(tmp_path / "p.csv"),
            "--out",
            str(tmp_path / "m.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    handle = f"raw file 4/7 (see {tmp_path / 'problems.csv'}): no PatientID"
    assert result.stderr.startswith(f"dynbus manifest: error: {handle}")
    assert "nopatient" not in result.stderr
    assert "KLEIN^BERT/nopatient.dcm" in (tmp_path / "problems.csv").read_text()
    assert not (tmp_path / "m.csv").exists()


def test_cli_links_each_raw_file_under_pseudonyms(raw, tmp_path):
    links = tmp_path / "linkage" / "raw"
    command = [
        "dynbus", "manifest", str(raw), "--key", str(tmp_path / "key.hex"),
        "--private", str(tmp_path / "linkage" / "manifest.csv"),
        "--out", str(tmp_path / "m.csv"), "--links", str(links),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    private = pd.read_csv(tmp_path / "linkage" / "manifest.csv")
    found = {path.relative_to(links).as_posix(): path.resolve() for path in links.rglob("*.dcm")}
    assert found == {
        f"{row.sequence_id}/{row.position:06d}.dcm": (raw / row.file).resolve()
        for row in private.itertuples()
    }
    assert all(path.is_symlink() for path in links.rglob("*.dcm"))
    (raw / "KLEIN^BERT" / "img0.dcm").unlink()
    subprocess.run(command, check=True, capture_output=True)
    assert len(list(links.rglob("*.dcm"))) == len(found) - 1
