"""dynbus frames: every transfer syntax / photometric interpretation, meta.json, series folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import convert_color_space, pixel_array
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from dynbus.errors import InputFileError
from dynbus.ingest.crop_match import from_base64, thumbnails
from dynbus.ingest.frames import extract_frames
from dynbus.ingest.phash import downscale, phash, to_hex
from tests import in_process
from tests.dicom_factory import (
    make_us,
    pattern,
    save,
    to_jpeg_baseline,
    to_ybr_full,
    with_palette,
)

LUMA = np.array([0.299, 0.587, 0.114])


def read_pngs(outdir: Path) -> np.ndarray:
    names = sorted(p for p in outdir.glob("*.png"))
    assert [p.name for p in names] == [f"{i:06d}.png" for i in range(len(names))]
    images = [Image.open(p) for p in names]
    assert all(image.mode == "L" for image in images)
    return np.stack([np.asarray(image) for image in images])


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma, rounded; in float32, as the stage computes it (float64 differs by one grey
    level at a few pixels whose luma lies next to a half)."""
    return np.rint(rgb.astype(np.float32) @ LUMA.astype(np.float32))


def mono8() -> tuple[object, np.ndarray]:
    pixels = pattern(3, 48, 64, 1, 255, seed=1)
    return make_us(pixels), pixels.astype(float)


def mono1() -> tuple[object, np.ndarray]:
    pixels = pattern(3, 48, 64, 1, 255, seed=2)
    return make_us(pixels, "MONOCHROME1"), 255 - pixels.astype(float)


def mono16() -> tuple[object, np.ndarray]:
    pixels = pattern(3, 48, 64, 1, 4095, seed=3)
    low, high = pixels.min(), pixels.max()
    return make_us(pixels, bits_stored=12), (pixels - low) * 255.0 / (high - low)


def rgb8() -> tuple[object, np.ndarray]:
    pixels = pattern(3, 48, 64, 3, 255, seed=4)
    return make_us(pixels, "RGB"), gray_of(pixels)


def ybr_full() -> tuple[object, np.ndarray]:
    """The gray of the stored YBR_FULL turned back to RGB (the RGB -> YBR rounding is lossy)."""
    ds = to_ybr_full(rgb8()[0])
    ybr = np.frombuffer(ds.PixelData, np.uint8).reshape(3, 48, 64, 3)
    return ds, gray_of(convert_color_space(ybr, "YBR_FULL", "RGB"))


def palette() -> tuple[object, np.ndarray]:
    indices = pattern(3, 48, 64, 1, 255, seed=5)
    ramp = np.arange(256)
    lut = np.stack([ramp * 257, (255 - ramp) * 257, (ramp // 2) * 257], axis=1)
    ds = with_palette(make_us(indices), lut.astype(np.uint16))
    return ds, gray_of(lut[indices] / 257.0)


def compressed(build, syntax):  # type: ignore[no-untyped-def]
    def make() -> tuple[object, np.ndarray]:
        ds, expected = build()
        ds.compress(syntax, generate_instance_uid=False)
        return ds, expected

    make.__name__ = f"{build.__name__}_{syntax.name}"
    return make


LOSSLESS = [
    mono8,
    mono1,
    mono16,
    rgb8,
    ybr_full,
    palette,
    compressed(mono8, RLELossless),
    compressed(rgb8, RLELossless),
    compressed(mono16, RLELossless),
    compressed(mono8, JPEGLSLossless),
    compressed(mono16, JPEGLSLossless),
    compressed(rgb8, JPEGLSLossless),
    compressed(mono8, JPEG2000Lossless),
    compressed(rgb8, JPEG2000Lossless),
]


@pytest.mark.parametrize("build", LOSSLESS, ids=lambda b: b.__name__)
def test_lossless_inputs_give_the_exact_gray(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds, expected = build()
    path = save(ds, tmp_path / "in.dcm")
    meta = extract_frames(path, tmp_path / "out", workers=2)
    frames = read_pngs(tmp_path / "out")
    assert frames.shape == (3, 48, 64)
    np.testing.assert_array_equal(frames, np.rint(expected).astype(np.uint8))
    assert meta == json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["n_frames"] == 3 and (meta["rows"], meta["columns"]) == (48, 64)


@pytest.mark.parametrize("build", [mono8, mono1], ids=lambda b: b.__name__)
def test_8bit_gray_is_written_unchanged(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """8-bit MONOCHROME2 / 1 frames are the stored pixels / their inverse, to the grey level."""
    ds, expected = build()
    extract_frames(save(ds, tmp_path / "in.dcm"), tmp_path / "out", workers=1)
    np.testing.assert_array_equal(read_pngs(tmp_path / "out"), expected.astype(np.uint8))


@pytest.mark.parametrize("build", [rgb8, mono8], ids=["ybr_full_422", "monochrome2"])
def test_jpeg_baseline_luma_matches_pydicom_decode(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ds, _ = build()
    path = save(to_jpeg_baseline(ds), tmp_path / "in.dcm")
    extract_frames(path, tmp_path / "out", workers=2)
    # the luma is the gray of the colour frame (before YCbCr -> RGB clipping)
    decoded = pixel_array(path, as_rgb=False).astype(float)
    reference = decoded[..., 0] if decoded.ndim == 4 else decoded
    assert np.abs(read_pngs(tmp_path / "out") - reference).max() <= 2


def test_real_ultrasound_cine_via_cli(tmp_path: Path) -> None:
    source = pydicom.dcmread(pydicom.data.get_testdata_file("examples_ybr_color.dcm"))
    path = save(source, tmp_path / "in.dcm")
    out = tmp_path / "frames"
    run = in_process.dynbus("frames", path, out)
    assert run.returncode == 0, run.stderr
    meta = json.loads((out / "meta.json").read_text())
    hashes, contrast = meta.pop("phash"), meta.pop("phash_contrast")
    thumbs = from_base64(meta.pop("thumbnails"), 30)
    assert meta == {
        "n_frames": 30,
        "rows": 240,
        "columns": 320,
        "frame_time_ms": pytest.approx(33.333),
        "regions": [[84, 31, 319, 239]],
        # the region's calibration as the header gives it (0.0510 cm/px, box not clipped)
        "spacing_mm": [{"box": [84, 31, 595, 414], "mm_per_px": [pytest.approx(0.510497)] * 2}],
        "manufacturer": "SonoSite, Inc.",
        "model": "Turbo",
    }
    frames = read_pngs(out)
    assert np.abs(frames - pixel_array(path, as_rgb=False)[..., 0].astype(float)).max() <= 2
    # the stored hashes are those of the PNGs as written (the duplicate check reads no PNG)
    recomputed, recomputed_contrast = phash(frames)
    assert hashes == to_hex(recomputed)
    assert contrast == recomputed_contrast.tolist()
    np.testing.assert_array_equal(thumbs, thumbnails(np.stack([downscale(f) for f in frames])))
    assert len(set(hashes)) > 1  # a cine's frames differ


def test_single_frame_series_is_ordered_by_instance_number(tmp_path: Path) -> None:
    pixels = pattern(4, 48, 64, 1, 255, seed=7)
    series = pydicom.uid.generate_uid()
    folder = tmp_path / "series"
    for index, number in enumerate([3, 1, 4, 2]):
        ds = make_us(pixels[number - 1], series_uid=series, multiframe=False)
        ds.InstanceNumber = number
        save(ds, folder / f"img{index}.dcm")
    meta = extract_frames(folder, tmp_path / "out", workers=2)
    assert meta["n_frames"] == 4
    np.testing.assert_array_equal(read_pngs(tmp_path / "out"), pixels)


def test_two_series_in_one_folder_fail_and_leave_nothing(tmp_path: Path) -> None:
    pixels = pattern(2, 48, 64, 1, 255, seed=8)
    for index in range(2):
        save(make_us(pixels[index], multiframe=False), tmp_path / "series" / f"{index}.dcm")
    with pytest.raises(InputFileError, match="2 series"):
        extract_frames(tmp_path / "series", tmp_path / "out", workers=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]


def test_bad_input_via_cli_names_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"not a dicom file at all" * 10)
    run = in_process.dynbus("frames", bad, tmp_path / "out")
    assert run.returncode == 2
    assert f"{bad}: not a DICOM file" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.dcm"]
