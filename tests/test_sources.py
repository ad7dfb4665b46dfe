"""Import of COCO-VID, video and CVAT exports: round trips against the DICOM path, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dynbus.cli import main as dynbus
from tests.source_exporters import (
    dicom_study,
    export_cocovid,
    export_cvat,
    export_videos,
    frame_arrays,
)

KEEP_ALL = [0, 0, 100000, 100000]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A tiny simulated study through the DICOM path."""
    return dicom_study(tmp_path_factory.mktemp("dicom"))


def run_import(raw: Path, out: Path, fmt: str, config: dict, *extra: str) -> int:
    """``dynbus import`` with --frames, then ``dynbus annotations`` on its boxes."""
    config = {"deid": {"fallback_box": KEEP_ALL}, **config}
    config["source"] = {"format": fmt, "patient": "folder", **config.get("source", {})}
    cfg = json.dumps(config)
    code = dynbus(
        [
            "import",
            str(raw),
            "--key",
            str(out / "key.hex"),
            "--private",
            str(out / "linkage" / "manifest.csv"),
            "--out",
            str(out / "manifest.csv"),
            "--skipped",
            str(out / "skipped.csv"),
            "--boxes",
            str(out / "linkage" / "boxes.csv"),
            "--specs",
            str(out / "linkage" / "sources"),
            "--frames",
            str(out / "frames"),
            "--workers",
            "1",
            "--config",
            cfg,
            *extra,
        ]
    )
    if code:
        return code
    return dynbus(
        [
            "annotations",
            str(out / "linkage" / "boxes.csv"),
            "--private-manifest",
            str(out / "linkage" / "manifest.csv"),
            "--manifest",
            str(out / "manifest.csv"),
            "--out",
            str(out / "annotations.csv"),
            "--report",
            str(out / "bad.csv"),
            "--config",
            cfg,
        ]
    )


def assert_same_contract(reference: Path, imported: Path, tolerance: int = 0) -> None:
    """Same sequences (by the exported folder name), patients, frames and boxes."""
    ref_manifest = pd.read_csv(reference / "manifest.csv")
    new_manifest = pd.read_csv(imported / "manifest.csv")
    private = pd.read_csv(imported / "linkage" / "manifest.csv")
    # the exported folders are {patient}/{seq}: recover the reference sequence of each import
    to_ref = {
        row.sequence_id: Path(row.file).with_suffix("").parts[-1]
        if not row.file.endswith(".xml")
        else Path(row.file).parts[-2]
        for row in private.itertuples()
    }
    assert sorted(to_ref.values()) == sorted(ref_manifest["sequence_id"])
    renamed = new_manifest.assign(sequence_id=new_manifest["sequence_id"].map(to_ref))
    merged = ref_manifest.merge(renamed, on="sequence_id", suffixes=("", "_new"))
    for column in ("n_frames", "rows", "columns"):
        assert (merged[column] == merged[f"{column}_new"]).all(), column
    ref_groups = merged.groupby("patient_id")["sequence_id"].apply(frozenset)
    new_groups = merged.groupby("patient_id_new")["sequence_id"].apply(frozenset)
    assert set(ref_groups) == set(new_groups)
    for new_seq, ref_seq in to_ref.items():
        ref_frames = frame_arrays(reference / "frames", ref_seq)
        new_frames = frame_arrays(imported / "frames", new_seq)
        assert len(ref_frames) == len(new_frames)
        for a, b in zip(ref_frames, new_frames, strict=True):
            assert np.abs(a.astype(int) - b.astype(int)).max() <= tolerance
    ref_boxes = pd.read_csv(reference / "annotations.csv", dtype={"lesion_id": str})
    new_boxes = pd.read_csv(imported / "annotations.csv", dtype={"lesion_id": str})
    new_boxes["sequence_id"] = new_boxes["sequence_id"].map(to_ref)
    order = ["sequence_id", "frame", "lesion_id"]
    pd.testing.assert_frame_equal(
        ref_boxes.sort_values(order).reset_index(drop=True),
        new_boxes.sort_values(order).reset_index(drop=True),
    )


def _reference_tables(reference: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_csv(reference / "manifest.csv"),
        pd.read_csv(reference / "annotations.csv", dtype={"lesion_id": str}),
    )


def test_cocovid_round_trip(reference: Path, tmp_path: Path) -> None:
    manifest, boxes = _reference_tables(reference)
    coco = export_cocovid(reference / "frames", boxes, manifest, tmp_path / "buv")
    assert (
        run_import(
            tmp_path / "buv" / "rawframes",
            tmp_path / "out",
            "cocovid",
            {"source": {"coco_json": [str(coco)]}},
        )
        == 0
    )
    assert_same_contract(reference, tmp_path / "out")
    assert len(pd.read_csv(tmp_path / "out" / "skipped.csv")) == 0


def test_video_round_trip_ffv1(reference: Path, tmp_path: Path) -> None:
    manifest, boxes = _reference_tables(reference)
    csv = export_videos(reference / "frames", boxes, manifest, tmp_path / "exp")
    assert (
        run_import(
            tmp_path / "exp" / "videos", tmp_path / "out", "video", {}, "--annotations", str(csv)
        )
        == 0
    )
    assert_same_contract(reference, tmp_path / "out")


def test_video_round_trip_mp4_with_coco_json(reference: Path, tmp_path: Path) -> None:
    manifest, boxes = _reference_tables(reference)
    export_videos(reference / "frames", boxes, manifest, tmp_path / "exp", ".mp4", "libx264")
    coco = export_cocovid(reference / "frames", boxes, manifest, tmp_path / "coco")
    assert (
        run_import(
            tmp_path / "exp" / "videos",
            tmp_path / "out",
            "video",
            {"source": {"coco_json": [str(coco)]}},
        )
        == 0
    )
    assert_same_contract(reference, tmp_path / "out", tolerance=1)


def test_cvat_round_trip(reference: Path, tmp_path: Path) -> None:
    manifest, boxes = _reference_tables(reference)
    raw = export_cvat(reference / "frames", boxes, manifest, tmp_path / "exp")
    assert run_import(raw, tmp_path / "out", "cvat", {}) == 0
    assert_same_contract(reference, tmp_path / "out")
