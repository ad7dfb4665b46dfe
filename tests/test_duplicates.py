"""Duplicate / leakage check: pHash, multi-index search against brute force, planted duplicates
across patients found and kept in one split; cropped, rescaled, brightened and re-encoded copies
found by the crop-tolerant check, distinct sweeps not."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dynbus import config as study_config
from dynbus.cli import main as dynbus
from dynbus.dataset.duplicates import hash_sequence, near_pairs
from dynbus.errors import InputFileError
from dynbus.ingest.frames import write_frame_folder
from dynbus.ingest.phash import phash
from dynbus.io.atomic import write_json
from dynbus.io.png_io import encode_png, read_png
from tests.conftest import copy_tree


@pytest.fixture(scope="module")
def study(dicom_path_study: Path, tmp_path_factory) -> Path:
    """The tiny DICOM-path study plus one planted sequence of a new patient: frames 1-3 of the
    first sequence with +-1 gray-level noise (a re-encoded copy)."""
    root = copy_tree(dicom_path_study, tmp_path_factory.mktemp("dup") / "study")
    manifest = pd.read_csv(root / "manifest.csv")
    source = manifest.iloc[0]
    rng = np.random.default_rng(0)
    planted = root / "frames" / "Splanted0001"
    planted.mkdir()
    for index, frame in enumerate([1, 2, 3]):
        image = read_png(root / "frames" / source.sequence_id / f"{frame:06d}.png").astype(int)
        image = image + rng.integers(-1, 2, image.shape)
        (planted / f"{index:06d}.png").write_bytes(encode_png(image.clip(0, 255).astype(np.uint8)))
    write_json(
        planted / "meta.json",
        {"n_frames": 3, "rows": int(source.rows), "columns": int(source.columns)},
    )
    row = source.to_dict() | {
        "sequence_id": "Splanted0001",
        "patient_id": "Pplanted01",
        "n_frames": 3,
    }
    pd.concat([manifest, pd.DataFrame([row])]).to_csv(root / "manifest.csv", index=False)
    return root


def test_near_pairs_equal_brute_force() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, (300, 256), dtype=np.uint8)
    copies = base.copy()
    for row, k in enumerate(rng.integers(0, 20, 300)):
        copies[row, rng.choice(256, k, replace=False)] ^= 1
    bits = np.concatenate([base, copies])
    hashes = np.packbits(bits, axis=1, bitorder="little").view("<u8")
    owners = rng.integers(0, 40, len(bits))
    i, j, distance = near_pairs(hashes, owners, 12)
    full = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    a, b = np.nonzero(np.triu(full <= 12, 1) & (owners[:, None] != owners[None, :]))
    found = sorted(zip(i.tolist(), j.tolist(), strict=True))
    assert found == sorted(zip(a.tolist(), b.tolist(), strict=True))
    assert (distance == full[i, j]).all()
    assert len(a) > 150  # most planted copies differ in <= 12 bits


def _bits_apart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x ^ y).sum(axis=-1)


def test_phash_separates_frames_and_keeps_near_copies(study: Path) -> None:
    manifest = pd.read_csv(study / "manifest.csv")
    frames = np.stack(
        [read_png(study / "frames" / s / "000000.png") for s in manifest["sequence_id"][:6]]
    )
    hashes, contrast = phash(frames)
    assert hashes.shape == (6, 4) and hashes.dtype == np.uint64
    distance = _bits_apart(hashes[:, None], hashes[None, :])
    assert distance[np.triu_indices(6, 1)].min() > 40  # default max_distance: 12 of 256
    assert (contrast > 4).all()
    noisy = frames.astype(int) + np.random.default_rng(2).integers(-2, 3, frames.shape)
    copied, _ = phash(noisy.clip(0, 255))
    assert _bits_apart(copied, hashes).max() <= 6


def _duplicates_args(study: Path, action: str) -> list[str]:
    return [
        "duplicates",
        "--manifest",
        str(study / "manifest.csv"),
        "--frames",
        str(study / "frames"),
        "--out",
        str(study / "duplicates.csv"),
        "--workers",
        "1",
        "--config",
        f'{{"duplicates": {{"action": "{action}"}}}}',
    ]


def _duplicates(study: Path, action: str) -> int:
    return dynbus(_duplicates_args(study, action))


def test_planted_duplicates_found_and_kept_in_one_split(study: Path) -> None:
    assert _duplicates(study, "merge") == 0
    pairs = pd.read_csv(study / "duplicates.csv")
    cross = pairs[~pairs["same_patient"]]
    source = pd.read_csv(study / "manifest.csv").iloc[0]
    assert len(cross) == 1
    assert {cross.iloc[0]["sequence_a"], cross.iloc[0]["sequence_b"]} == {
        source.sequence_id,
        "Splanted0001",
    }
    assert cross.iloc[0]["frame_pairs"] >= 3
    for seed in range(6):
        split = [
            "split",
            "--manifest",
            str(study / "manifest.csv"),
            "--annotations",
            str(study / "annotations.csv"),
            "--out",
            str(study / "splits.csv"),
            "--summary",
            str(study / "summary.csv"),
            "--duplicates",
            str(study / "duplicates.csv"),
            "--config",
            f'{{"split": {{"seed": {seed}, "fractions": '
            '{"train": 0.5, "val": 0.25, "test": 0.25}}}',
        ]
        assert dynbus(split) == 0
        splits = pd.read_csv(study / "splits.csv").set_index("sequence_id")["split"]
        assert splits[source.sequence_id] == splits["Splanted0001"]
    summary = pd.read_csv(study / "summary.csv").set_index("split")
    assert summary.loc["total", "patients_merged_for_duplicates"] == 2
    assert summary.loc["total", "patients"] == 4


def test_duplicates_error_action_stops(study: Path, capsys) -> None:
    assert _duplicates(study, "error") == 2
    assert "share near-duplicate frames" in capsys.readouterr().err


def test_stored_hashes_are_those_of_the_pngs(study: Path, tmp_path: Path) -> None:
    """The frame writer's hashes in meta.json give the report hashing the PNGs gives."""
    assert _duplicates(study, "merge") == 0
    stored = pd.read_csv(study / "duplicates.csv")
    stripped = tmp_path / "frames"
    shutil.copytree(study / "frames", stripped)
    for meta_path in stripped.glob("*/meta.json"):
        meta = json.loads(meta_path.read_text())
        assert ("phash" in meta) == (meta_path.parent.name != "Splanted0001")
        kept = {
            key: value
            for key, value in meta.items()
            if not key.startswith("phash") and key != "thumbnails"
        }
        meta_path.write_text(json.dumps(kept))
    for folder in stripped.iterdir():
        from_pngs = hash_sequence(folder, stride=2)
        from_meta = hash_sequence(study / "frames" / folder.name, stride=2)
        for recomputed, kept in zip(from_pngs, from_meta, strict=True):
            np.testing.assert_array_equal(recomputed, kept)
    rerun = _duplicates_args(study, "merge")
    rerun[rerun.index("--frames") + 1] = str(stripped)
    assert dynbus(rerun) == 0
    pd.testing.assert_frame_equal(pd.read_csv(study / "duplicates.csv"), stored)


def test_a_damaged_stored_hash_names_the_file(study: Path, tmp_path: Path) -> None:
    folder = tmp_path / "seq"
    first = pd.read_csv(study / "manifest.csv").iloc[0].sequence_id
    shutil.copytree(study / "frames" / first, folder)
    meta = json.loads((folder / "meta.json").read_text())
    meta["phash"] = meta["phash"][:-1]
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match="meta.json.*hashes"):
        hash_sequence(folder)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


def _rescaled(image: np.ndarray, factor: float) -> np.ndarray:
    rows, columns = image.shape
    size = (round(columns * factor), round(rows * factor))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def _levels(image: np.ndarray, shift: int = 0, gamma: float = 1.0) -> np.ndarray:
    return np.clip(255 * (image / 255) ** gamma + shift + 0.5, 0, 255).astype(np.uint8)


# re-exports of a sweep (128 x 160): name -> (first and last frame copied, the change)
ALTERED: dict[str, tuple[int, int, Callable[[np.ndarray], np.ndarray]]] = {
    "crop3": (0, 99, lambda im: im[3:-3, 3:-3]),
    "crop6": (0, 99, lambda im: im[6:-6, 6:-6]),
    "crop10": (0, 99, lambda im: im[10:-10, 10:-10]),
    "crop3-10": (0, 99, lambda im: im[3:-10, 10:-3]),
    "rescale0.9": (0, 99, lambda im: _rescaled(im, 0.9)),
    "rescale1.1": (0, 99, lambda im: _rescaled(im, 1.1)),
    "brighter20": (0, 99, lambda im: _levels(im, 20)),
    "darker20": (0, 99, lambda im: _levels(im, -20)),
    "gamma1.5": (0, 99, lambda im: _levels(im, gamma=1.5)),
    "jpeg50": (0, 99, lambda im: _jpeg(im, 50)),
    "part-crop5-jpeg70": (2, 5, lambda im: _jpeg(_levels(im[5:-5, 4:-6], -10), 70)),
}


def _copy_id(name: str) -> str:
    return "S" + name.replace(".", "_")


def _plant(root: Path, source: pd.Series, name: str, patient: str, sequence: str) -> dict:
    """Write an altered copy of ``source``'s frames (``ALTERED[name]``) through the frame writer
    as ``sequence`` of ``patient``; return its manifest row."""
    first, last, change = ALTERED[name]
    folder = root / "frames" / source.sequence_id
    frames = [
        change(read_png(folder / f"{index:06d}.png"))
        for index in range(first, min(last, int(source.n_frames) - 1) + 1)
    ]
    rows, columns = frames[0].shape
    meta = {"n_frames": len(frames), "rows": rows, "columns": columns}
    write_frame_folder(root / "frames" / sequence, [lambda f=f: f for f in frames], meta, 1, name)
    row = {"sequence_id": sequence, "patient_id": patient, "n_frames": len(frames)}
    return source.to_dict() | row | {"rows": rows, "columns": columns}


@pytest.fixture(scope="module")
def altered(study: Path, tmp_path_factory) -> Path:
    """The study plus an altered copy of its first sequence per ``ALTERED`` entry, each of a new
    patient, and a cropped copy of its second sequence of that sequence's own patient; checked
    (``duplicates.csv``)."""
    root = tmp_path_factory.mktemp("altered")
    shutil.copytree(study, root, dirs_exist_ok=True)
    manifest = pd.read_csv(root / "manifest.csv")
    first, second = manifest.iloc[0], manifest.iloc[1]
    rows = [
        _plant(root, first, name, f"Pcopy{k:02d}", _copy_id(name)) for k, name in enumerate(ALTERED)
    ]
    rows.append(_plant(root, second, "crop6", second.patient_id, "Sown_crop6"))
    pd.concat([manifest, pd.DataFrame(rows)]).to_csv(root / "manifest.csv", index=False)
    assert _duplicates(root, "merge") == 0
    return root


@pytest.mark.parametrize("name", ALTERED)
def test_altered_copies_found_across_patients(altered: Path, name: str) -> None:
    pairs = pd.read_csv(altered / "duplicates.csv")
    source = pd.read_csv(altered / "manifest.csv").iloc[0].sequence_id
    copy = _copy_id(name)
    found = pairs[
        (pairs["sequence_a"] == min(source, copy)) & (pairs["sequence_b"] == max(source, copy))
    ]
    assert len(found) == 1 and not found.iloc[0]["same_patient"]
    assert found.iloc[0]["correlation"] >= study_config.load(None)["duplicates"]["min_correlation"]


def test_distinct_sweeps_and_own_copies_are_no_leaks(altered: Path, capsys) -> None:
    """Only the planted copies link sequences; a copy within one patient is listed, not a leak."""
    assert _duplicates(altered, "error") == 2  # the copies across patients
    assert "share near-duplicate frames" in capsys.readouterr().err
    pairs = pd.read_csv(altered / "duplicates.csv")
    manifest = pd.read_csv(altered / "manifest.csv")
    study = set(manifest["sequence_id"][:6])
    linked = pairs[pairs["sequence_a"].isin(study) & pairs["sequence_b"].isin(study)]
    assert linked.empty
    own = pairs[(pairs["sequence_a"] == "Sown_crop6") | (pairs["sequence_b"] == "Sown_crop6")]
    assert len(own) == 1 and own.iloc[0]["same_patient"]
    assert manifest.iloc[1].sequence_id in set(own[["sequence_a", "sequence_b"]].iloc[0])
