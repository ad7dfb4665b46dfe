"""Bad DICOM inputs: each gives one clear error naming the file, and no output is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dynbus.errors import InputFileError
from dynbus.io.dicom_io import read_dicom, read_header
from tests import in_process
from tests.dicom_factory import make_us, pattern, save, to_jpeg_baseline


def _valid() -> Dataset:
    return make_us(pattern(2, 48, 64, 1, 255, seed=1))


def truncated_native(path: Path) -> None:
    save(_valid(), path)
    path.write_bytes(path.read_bytes()[:-1000])


def truncated_jpeg(path: Path) -> None:
    save(to_jpeg_baseline(make_us(pattern(2, 48, 64, 3, 255, seed=1), "RGB")), path)
    path.write_bytes(path.read_bytes()[:-200])


def not_dicom(path: Path) -> None:
    path.write_text("PatientName=Doe^Jane\n" * 20)


def not_ultrasound(path: Path) -> None:
    ds = _valid()
    ds.Modality = "CT"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    save(ds, path)


def no_pixel_data(path: Path) -> None:
    ds = _valid()
    del ds.PixelData
    save(ds, path)


def no_patient_id(path: Path) -> None:
    ds = _valid()
    del ds.PatientID
    save(ds, path)


def undecodable_syntax(path: Path) -> None:
    ds = to_jpeg_baseline(make_us(pattern(2, 48, 64, 3, 255, seed=1), "RGB"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    save(ds, path)


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated_native": (truncated_native, "truncated pixel data"),
    "truncated_jpeg": (truncated_jpeg, "truncated DICOM file"),
    "not_dicom": (not_dicom, "not a DICOM file"),
    "not_ultrasound": (not_ultrasound, "not an ultrasound image"),
    "no_pixel_data": (no_pixel_data, "no Pixel Data"),
    "no_patient_id": (no_patient_id, "no PatientID"),
    "undecodable_syntax": (undecodable_syntax, "transfer syntax"),
}


@pytest.mark.parametrize("read", [read_dicom, read_header])
@pytest.mark.parametrize("case", CASES)
def test_read_dicom_rejects(case: str, read: Callable[[Path], Dataset], tmp_path: Path) -> None:
    build, problem = CASES[case]
    path = tmp_path / "input.dcm"
    build(path)
    with pytest.raises(InputFileError, match=problem) as error:
        read(path)
    assert error.value.path == str(path)


def test_read_dicom_accepts_a_valid_file(tmp_path: Path) -> None:
    assert read_dicom(save(_valid(), tmp_path / "ok.dcm")).Modality == "US"


def test_read_header_accepts_valid_files_without_loading_pixels(tmp_path: Path) -> None:
    native = make_us(pattern(4, 240, 320, 1, 255, seed=1))  # pixel data > HEADER_DEFER_SIZE
    jpeg = to_jpeg_baseline(make_us(pattern(4, 240, 320, 3, 255, seed=1), "RGB"))
    for name, ds in [("native.dcm", native), ("jpeg.dcm", jpeg)]:
        header = read_header(save(ds, tmp_path / name))
        assert header.get_item("PixelData", keep_deferred=True).value is None  # never read


@pytest.mark.parametrize("case", ["truncated_jpeg", "no_patient_id", "not_dicom"])
def test_deidentify_cli_fails_cleanly(case: str, tmp_path: Path) -> None:
    build, problem = CASES[case]
    good = save(_valid(), tmp_path / "raw" / "good.dcm")
    bad = tmp_path / "raw" / "bad.dcm"
    build(bad)
    out = tmp_path / "out"
    run = in_process.dynbus(
        "deidentify",
        str(good),
        str(bad),
        str(out / "seq"),
        "--key",
        str(tmp_path / "key.hex"),
        "--audit",
        str(out / "audit.json"),
    )
    assert run.returncode == 2
    assert run.stderr.startswith(f"dynbus deidentify: error: {bad}: ")
    assert problem in run.stderr and "Traceback" not in run.stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(("syntax", "problem"), [("native", "truncated pixel data"),
                                                 ("jpeg", "truncated DICOM file")])  # fmt: skip
def test_read_header_finds_truncation_of_deferred_pixel_data(
    syntax: str, problem: str, tmp_path: Path
) -> None:
    ds = make_us(pattern(4, 240, 320, 3, 255, seed=2), "RGB")  # pixel data > HEADER_DEFER_SIZE
    path = save(to_jpeg_baseline(ds) if syntax == "jpeg" else ds, tmp_path / "big.dcm")
    path.write_bytes(path.read_bytes()[:-3000])
    with pytest.raises(InputFileError, match=problem):
        read_header(path)
