"""OCR from the lock on the simulator's burned-in text: Latin and Chinese names, clean tissue.

Never skipped: the engine is in requirements.lock, so a missing engine is a failure here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dynbus.deid.burned_text import check_burned_text
from dynbus.deid.ocr import SETTINGS, engine, require_ocr
from dynbus.deid.pixels import decoded_frames, region_mask, ultrasound_regions
from dynbus.simulate.phi import ascii_fold
from tests.dicom_factory import make_us, pattern, save

# seed 5: patients 0 and 2 of 4 have Chinese names (GB18030 headers), 1 and 3 Latin ones
STUDY = {"simulate": {"frames": [4, 5], "rows": 256, "columns": 320}}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("sim") / "raw"
    command = [sys.executable, "-m", "dynbus", "simulate", "--out", str(out), "--seed", "5",
               "--patients", "4", "--config", json.dumps(STUDY)]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    return sorted(out.rglob("*.dcm"))


def _gray(frames: np.ndarray) -> np.ndarray:
    return frames.max(axis=-1) if frames.ndim == 4 else frames


def _read(image: np.ndarray) -> str:
    found, _ = engine()(np.repeat(np.ascontiguousarray(image)[..., None], 3, axis=-1))
    return "".join(text for _, text, _ in found or []).replace(" ", "")


def _banner_and_region(ds: pydicom.Dataset) -> tuple[int, np.ndarray]:
    return int(ds.SequenceOfUltrasoundRegions[0].RegionLocationMinY0), region_mask(
        ultrasound_regions(ds), ds.Rows, ds.Columns
    )


def test_engine_reads_latin_and_chinese_names_in_banners(files: list[Path]) -> None:
    """The banner's first line starts with the name: read with at most one character in three
    wrong (a 9-pixel Chinese glyph can be misread as a similar one)."""
    kinds = set()
    for path in files:
        ds = pydicom.dcmread(path)
        alphabetic, *ideographic = str(ds.PatientName).split("=")
        family = alphabetic.split("^")[0]
        name = ideographic[0].replace("^", "") if ideographic else ascii_fold(family)
        kinds.add(ds.SpecificCharacterSet)
        top, _ = _banner_and_region(ds)
        read = _read(_gray(decoded_frames(ds))[0, :top]).upper()
        assert SequenceMatcher(None, name, read[: len(name)]).ratio() >= 2 / 3, (name, read)
    assert kinds == {"GB18030", "ISO_IR 192"}


def test_check_finds_banner_text_and_nothing_on_tissue(files: list[Path]) -> None:
    """Kept area = whole frame: the banner's text is found (static cue + OCR, and OCR alone in
    one frame); kept area = the ultrasound region: tissue only, nothing found."""
    for path in files[::2]:
        ds = pydicom.dcmread(path)
        frames = decoded_frames(ds)
        top, region = _banner_and_region(ds)
        ink = _gray(frames)[0, :top] > 50
        for loop in (frames, frames[:1]):
            found = check_burned_text(loop, np.ones_like(region), 255, invert=False, use_ocr=True)
            assert found.ocr == require_ocr() and found.checked
            text = region_mask(found.text, ds.Rows, ds.Columns)[:top]
            assert text[ink].mean() > 0.9, (path.name, len(loop))
            clean = check_burned_text(loop, region, 255, invert=False, use_ocr=True)
            assert clean.checked and clean.text == [], (path.name, len(loop))


def test_lines_do_not_depend_on_the_thread_count(files: list[Path]) -> None:
    from rapidocr_onnxruntime import RapidOCR

    two = RapidOCR(**{**SETTINGS, "intra_op_num_threads": 2})
    for path in files:
        ds = pydicom.dcmread(path)
        top, _ = _banner_and_region(ds)
        banner = np.repeat(_gray(decoded_frames(ds))[0, :top, :, None], 3, axis=-1)
        one_thread, _ = engine()(banner)
        two_threads, _ = two(banner)
        assert [text for _, text, _ in one_thread] == [text for _, text, _ in two_threads]


def test_missing_engine_stops_the_run_with_one_line(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "rapidocr_onnxruntime.py").write_text("raise ImportError('not installed')\n")
    raw = save(make_us(pattern(3, 48, 64, 1, 160, seed=2)), tmp_path / "raw.dcm")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), *sys.path])}
    command = [sys.executable, "-m", "dynbus", "deidentify", str(raw), str(tmp_path / "out.dcm"),
               "--key", str(tmp_path / "key.hex")]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and "OCR asked for (deid.ocr: true)" in run.stderr
    assert not (tmp_path / "out.dcm").exists()
    off = subprocess.run([*command, "--config", '{"deid": {"ocr": false}}'], capture_output=True,
                         text=True, env=env, check=False)  # fmt: skip
    assert off.returncode == 0, off.stderr
