"""dynbus simulate: real DICOM, PHI where de-identification must find it, sensible boxes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, UltrasoundMultiFrameImageStorage

from dynbus.errors import DynbusError
from dynbus.simulate import lesions, study
from dynbus.simulate.anatomy import FAT, GLAND, Tissue
from dynbus.simulate.dicom_writer import PRIVATE_CREATOR
from dynbus.simulate.phi import ascii_fold, banner_lines
from dynbus.simulate.scanner import banner_font_size, render_banner
from dynbus.simulate.speckle import SpeckleBank

SMALL = {"simulate": {"frames": [6, 10], "rows": 128, "columns": 160}}
PATIENTS = 8


def _run(out: Path, seed: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dynbus",
            "simulate",
            "--out",
            str(out),
            "--seed",
            str(seed),
            "--patients",
            str(PATIENTS),
            "--config",
            json.dumps(SMALL),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "raw"
    result = _run(out, 5)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def files(raw: Path) -> list[Path]:
    return sorted(raw.rglob("*.dcm"))


@pytest.fixture(scope="module")
def annotations(raw: Path) -> pd.DataFrame:
    return pd.read_csv(raw / "annotations.csv")


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame.mean(axis=-1) if frame.ndim == 3 else frame.astype(float)


def test_same_seed_gives_identical_bytes(raw: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert _run(again, 5).returncode == 0
    first = {p.relative_to(raw): p.read_bytes() for p in raw.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert all(first[name] == second[name] for name in first)


def test_other_seed_gives_other_study(raw: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert _run(other, 6).returncode == 0
    assert {p.parent.name for p in other.rglob("*.dcm")} != {
        p.parent.name for p in raw.rglob("*.dcm")
    }


def test_files_are_ultrasound_cines_with_regions(files: list[Path]) -> None:
    assert len(files) >= PATIENTS
    for path in files:
        ds = pydicom.dcmread(path)
        assert ds.SOPClassUID == UltrasoundMultiFrameImageStorage
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert 6 <= ds.NumberOfFrames <= 10
        assert 1000 / 47 - 1e-6 <= float(ds.FrameTime) <= 1000 / 18 + 1e-6
        pixels = ds.pixel_array
        assert pixels.shape[:3] == (ds.NumberOfFrames, 128, 160)
        (region,) = ds.SequenceOfUltrasoundRegions
        assert 0 < region.RegionLocationMinX0 < region.RegionLocationMaxX1 < ds.Columns
        assert 0 < region.RegionLocationMinY0 < region.RegionLocationMaxY1 < ds.Rows
        inside = _gray(pixels[0])[
            region.RegionLocationMinY0 : region.RegionLocationMaxY1 + 1,
            region.RegionLocationMinX0 : region.RegionLocationMaxX1 + 1,
        ]
        assert 40 < inside.mean() < 200 and inside.std() > 15  # an image, not blank or clipped


def test_mix_of_transfer_syntaxes_and_photometrics(files: list[Path]) -> None:
    kinds = {
        (
            str(pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID),
            pydicom.dcmread(p, stop_before_pixels=True).PhotometricInterpretation,
        )
        for p in files
    }
    syntaxes = {syntax for syntax, _ in kinds}
    assert {JPEGBaseline8Bit, ExplicitVRLittleEndian} <= syntaxes and len(syntaxes) >= 4
    assert {"MONOCHROME2", "RGB", "YBR_FULL_422"} <= {photo for _, photo in kinds}


def test_phi_in_header_and_folder_names(files: list[Path]) -> None:
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        alphabetic = str(ds.PatientName).split("=")[0]
        assert path.parent.name == f"{ascii_fold(alphabetic)}_{ds.PatientID}"
        for keyword in (
            "PatientBirthDate",
            "InstitutionName",
            "ReferringPhysicianName",
            "AccessionNumber",
            "StudyDate",
            "StudyTime",
            "OperatorsName",
            "PatientAddress",
        ):
            assert str(ds.data_element(keyword).value).strip(), keyword
        block = ds.private_block(0x0029, PRIVATE_CREATOR)
        assert block[0x02].value == ds.PatientID


def test_identities_are_the_ones_written(files: list[Path]) -> None:
    written = {}
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        written[path.parent.name] = (str(ds.PatientName), ds.PatientID, ds.PatientTelephoneNumbers)
    assert written == {
        person.folder: (person.name, person.patient_id, person.phone)
        for person in study.identities(5, PATIENTS)
    }


def test_banner_burns_name_id_and_date_outside_the_region(files: list[Path]) -> None:
    """Latin names burn in ASCII; Chinese names (GB18030 headers) burn in Chinese characters."""
    charsets = set()
    for path in files:
        ds = pydicom.dcmread(path)
        alphabetic, *ideographic = str(ds.PatientName).split("=")
        charsets.add(ds.SpecificCharacterSet)
        assert ds.SpecificCharacterSet == ("GB18030" if ideographic else "ISO_IR 192")
        name = ideographic[0].replace("^", "") if ideographic else ascii_fold(alphabetic)
        lines = banner_lines(
            name.replace("^", " "),
            ds.PatientID,
            ds.PatientBirthDate,
            ds.StudyDate,
            ds.StudyTime,
            str(ds.InstitutionName),
        )
        expected = render_banner(lines, ds.Columns, banner_font_size(ds.Rows))
        shown = _gray(ds.pixel_array[-1])[: len(expected)]
        assert ds.SequenceOfUltrasoundRegions[0].RegionLocationMinY0 >= len(expected)
        correlation = np.corrcoef(shown.ravel(), expected.ravel().astype(float))[0, 1]
        assert correlation > 0.9, path
    assert charsets == {"GB18030", "ISO_IR 192"}


def test_boxes_lie_in_the_image_area_of_existing_frames(
    raw: Path, annotations: pd.DataFrame
) -> None:
    assert list(annotations.columns) == ["file", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
    for name, boxes in annotations.groupby("file"):
        ds = pydicom.dcmread(raw / name, stop_before_pixels=True)
        region = ds.SequenceOfUltrasoundRegions[0]
        assert boxes.frame.between(0, ds.NumberOfFrames - 1).all()
        assert (boxes.x1 >= region.RegionLocationMinX0).all()
        assert (boxes.y1 >= region.RegionLocationMinY0).all()
        assert (boxes.x2 <= region.RegionLocationMaxX1 + 1).all()
        assert (boxes.y2 <= region.RegionLocationMaxY1 + 1).all()
        assert ((boxes.x2 - boxes.x1 >= 2) & (boxes.y2 - boxes.y1 >= 2)).all()
        assert not boxes.duplicated(["frame", "lesion_id"]).any()


def test_masses_fill_most_frames_and_shrink_at_the_sweep_edges(
    raw: Path, annotations: pd.DataFrame
) -> None:
    areas = annotations.assign(
        area=(annotations.x2 - annotations.x1) * (annotations.y2 - annotations.y1)
    )
    fractions, edge_ratios = [], []
    for (name, _), boxes in areas.groupby(["file", "lesion_id"]):
        n_frames = pydicom.dcmread(raw / name, stop_before_pixels=True).NumberOfFrames
        fractions.append(len(boxes) / n_frames)
        ends = boxes.sort_values("frame").area.iloc[[0, -1]]
        edge_ratios.append(ends.max() / boxes.area.max())
    assert np.median(fractions) >= 0.7
    assert np.median(edge_ratios) < 0.6


def test_masses_are_darker_than_their_surroundings(raw: Path, annotations: pd.DataFrame) -> None:
    contrasts = []
    for (name, _), boxes in annotations.groupby(["file", "lesion_id"]):
        row = boxes.iloc[len(boxes) // 2]
        frame = _gray(pydicom.dcmread(raw / name).pixel_array[row.frame])
        x1, y1, x2, y2 = (int(v) for v in (row.x1, row.y1, row.x2, row.y2))
        cx, cy, rx, ry = (x1 + x2) // 2, (y1 + y2) // 2, (x2 - x1) // 4, (y2 - y1) // 4
        core = frame[cy - ry : cy + ry + 1, cx - rx : cx + rx + 1].mean()
        left = frame[y1:y2, max(0, x1 - (x2 - x1) // 2) : x1].mean()
        right = frame[y1:y2, x2 : x2 + (x2 - x1) // 2].mean()
        contrasts.append(core - (left + right) / 2)
    assert np.median(contrasts) < -10


def test_study_has_negative_sequences_and_one_to_four_per_patient(
    files: list[Path], annotations: pd.DataFrame
) -> None:
    per_patient = pd.Series([p.parent.name for p in files]).value_counts()
    assert per_patient.between(1, 4).all()
    annotated = set(annotations.file)
    assert any(str(p.relative_to(p.parents[1])) not in annotated for p in files)


def test_speckle_decorrelates_partially_between_frames() -> None:
    bank = SpeckleBank(np.random.default_rng(0), (64, 80))
    cine = bank.cine(np.random.default_rng(1), 12, (64, 80), rho=0.8)
    assert cine.shape == (12, 64, 80)
    assert abs(np.mean(cine**2) - 1) < 0.15

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    assert 0.4 < corr(cine[0], cine[1]) < 0.9
    assert corr(cine[0], cine[11]) < 0.2
    assert 0.2 < corr(cine[0][:, :-1], cine[0][:, 1:]) < 0.99  # spatially correlated grain


def test_failed_run_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing(path: Path, *args: object, **kwargs: object) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real(path, *args, **kwargs)

    real = study.write_cine
    monkeypatch.setattr(study, "write_cine", failing)
    with pytest.raises(OSError):
        study.simulate(tmp_path / "raw", study.Settings(1, 3, (4, 5), 96, 112))
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_non_empty_output_folder(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "keep.txt").write_text("mine")
    with pytest.raises(DynbusError, match="not empty"):
        study.simulate(tmp_path / "raw", study.Settings(1, 1, (4, 5), 96, 112))
    assert (tmp_path / "raw" / "keep.txt").read_text() == "mine"


def _lone_mass(echo: float, halo: float, radius: float) -> tuple[lesions.Mass, Tissue, np.ndarray]:
    mass = lesions.Mass(
        x=40.0,
        y=40.0,
        z=0.0,
        a=radius,
        b=0.8 * radius,
        c=0.8 * radius,
        surface=np.zeros(lesions.LUT_SHAPE, np.float32),
        echo=echo,
        edge=0.06,
        posterior=0.0,
        halo=halo,
    )
    z = np.arange(-14.0, 14.25, 0.5)  # fine steps: the sweep's ends cut slivers
    tissue = Tissue(
        np.full((len(z), 80, 80), GLAND, np.float32),
        np.zeros((len(z), 80, 80), np.float32),
        0.0,
        80.0,
    )
    return mass, tissue, z


def test_only_cuts_the_beam_fills_at_least_half_are_annotated() -> None:
    mass, tissue, z = _lone_mass(echo=0.2, halo=0.0, radius=6.0)
    boxes = lesions.render_mass(np.random.default_rng(0), mass, z, tissue, beam=3.0)
    darkened = (tissue.reflect < 0.9 * GLAND).reshape(len(z), -1).any(axis=1)
    annotated = np.array([box is not None for box in boxes])
    assert annotated.sum() >= 10
    assert (darkened & ~annotated).sum() >= 2  # faint end cuts: painted, left unannotated
    assert not (annotated & ~darkened).any()
    halfway = GLAND * (1.0 + mass.echo) / 2
    for box, frame in zip(boxes, tissue.reflect, strict=True):
        if box is not None:  # the reader outlines pixels the mass darkens at least halfway
            x1, y1, x2, y2 = (int(v) for v in box)
            assert (frame[y1:y2, x1:x2] < halfway).sum() >= 40


def test_isoechoic_masses_show_a_bright_capsule() -> None:
    rng = np.random.default_rng(3)
    masses = [lesions.sample_mass(rng) for _ in range(400)]
    isoechoic = [m for m in masses if m.echo >= 0.85 * FAT]
    assert 0.05 < len(isoechoic) / len(masses) < 0.25
    assert all(m.halo >= 0.3 for m in isoechoic)
    mass, tissue, z = _lone_mass(echo=FAT, halo=0.8, radius=15.0)
    lesions.render_mass(np.random.default_rng(0), mass, z, tissue, beam=3.0)
    middle = tissue.reflect[len(z) // 2]
    assert middle[40, 40 - 17 : 40 + 18].max() > 1.2 * GLAND
