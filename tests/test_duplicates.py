"""Duplicate / leakage check: pHash, multi-index search against brute force, planted duplicates
across patients found and kept in one split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynbus.atomic import write_json
from dynbus.cli import main as dynbus
from dynbus.duplicates import hash_sequence, near_pairs
from dynbus.errors import InputFileError
from dynbus.phash import phash
from dynbus.png_io import encode_png, read_png
from tests.source_exporters import dicom_study


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The tiny DICOM-path study plus one planted sequence of a new patient: frames 1-3 of the
    first sequence with +-1 gray-level noise (a re-encoded copy)."""
    root = dicom_study(tmp_path_factory.mktemp("dup"))
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
