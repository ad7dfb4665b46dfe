"""Import of COCO-VID, video and CVAT exports: round trips against the DICOM path, bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from dynbus.cli import main as dynbus
from dynbus.ingest.sources.video import frame_gray
from tests.conftest import ROOT, run_workflow
from tests.source_exporters import (
    cvat_xml,
    export_cocovid,
    export_cvat,
    export_videos,
    frame_arrays,
    png_bytes,
    write_video,
)

KEEP_ALL = [0, 0, 100000, 100000]


def assert_patient_folder_absent(work: Path, console: str) -> None:
    """The planted patient folder name is in no name or file under results/, logs/,
    .snakemake/, nor on the console."""
    for folder in ("results", "logs", ".snakemake"):
        for path in (work / folder).rglob("*"):
            assert "DOE^JANE" not in str(path)
            if path.is_file():
                assert b"DOE^JANE" not in path.read_bytes(), path
    assert "DOE^JANE" not in console


@pytest.fixture(scope="module")
def reference(dicom_path_study: Path) -> Path:
    """The DICOM path's outputs on the tiny study, the reference every import is compared with."""
    return dicom_path_study


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
    to_ref = reference_names(imported)
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


def reference_names(imported: Path) -> dict[str, str]:
    """Imported sequence pseudonym -> the reference sequence it was exported from (the exported
    folders and files are named ``{patient}/{sequence}``)."""
    private = pd.read_csv(imported / "linkage" / "manifest.csv")
    return {
        row.sequence_id: Path(row.file).with_suffix("").parts[-1]
        if not row.file.endswith("annotations.xml")
        else Path(row.file).parts[-2]
        for row in private.itertuples()
    }


def paper_tables(manifest: pd.DataFrame, boxes: pd.DataFrame, out: Path) -> dict[str, bytes]:
    """Tables 1-2 through the real split -> evaluate -> tables commands, for detections made
    from ``boxes`` (each box shifted, seeded scores) plus one seeded false positive per frame."""
    out.mkdir(parents=True)
    manifest.to_csv(out / "manifest.csv", index=False)
    boxes.to_csv(out / "annotations.csv", index=False)
    rng = np.random.default_rng(0)
    frames = manifest.loc[manifest.index.repeat(manifest["n_frames"]), ["sequence_id"]]
    frames["frame"] = frames.groupby("sequence_id").cumcount()
    frames = frames.sort_values(["sequence_id", "frame"])
    hits = boxes.sort_values(["sequence_id", "frame", "lesion_id"])
    hits = hits.assign(x1=hits.x1 + 2, x2=hits.x2 + 2, score=rng.uniform(0.3, 1.0, len(hits)))
    false = frames.assign(x1=5.0, y1=5.0, x2=25.0, y2=25.0, score=rng.uniform(0, 0.8, len(frames)))
    detections = pd.concat([hits, false])[["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]]
    detections.to_csv(out / "detections.csv", index=False)
    config = json.dumps(
        {
            "split": {"fractions": {"train": 0.2, "val": 0.2, "test": 0.6}},
            "evaluate": {"bootstrap": 20},
        }
    )
    split, evaluate = str(out / "splits.csv"), str(out / "eval")
    tables = str(out / "tables")
    common = ["--annotations", str(out / "annotations.csv"), "--config", config]
    assert dynbus(["split", "--manifest", str(out / "manifest.csv"), "--out", split,
                   "--summary", str(out / "summary.csv"), *common]) == 0  # fmt: skip
    assert dynbus(["evaluate", "--detections", str(out / "detections.csv"), "--manifest", split,
                   "--split", "test", "--out", evaluate, *common]) == 0  # fmt: skip
    assert dynbus(["tables", "--counts", f"{evaluate}/counts.csv", "--stats",
                   f"{evaluate}/stats.csv", "--out", tables]) == 0  # fmt: skip
    return {name: (out / "tables" / name).read_bytes() for name in ("table1.csv", "table2.csv")}


def assert_same_tables(reference: Path, imported: Path, tmp_path: Path) -> None:
    """The imported study, its pseudonyms mapped back to the reference's, gives the DICOM path's
    Tables 1-2 (pseudonyms differ by source: they key the split and the single-frame draw)."""
    to_ref = reference_names(imported)
    ref_manifest, ref_boxes = _reference_tables(reference)
    manifest, boxes = _reference_tables(imported)
    manifest["sequence_id"] = manifest["sequence_id"].map(to_ref)
    patients = manifest.merge(ref_manifest, on="sequence_id", suffixes=("", "_ref"))
    manifest["patient_id"] = manifest["patient_id"].map(
        dict(zip(patients["patient_id"], patients["patient_id_ref"], strict=True))
    )
    boxes["sequence_id"] = boxes["sequence_id"].map(to_ref)
    expected = paper_tables(ref_manifest, ref_boxes, tmp_path / "tables_dicom")
    assert paper_tables(manifest, boxes, tmp_path / "tables_imported") == expected


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
    assert_same_tables(reference, tmp_path / "out", tmp_path)


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


@pytest.mark.parametrize(
    "pixel_format",
    ["yuv420p", "yuv422p", "yuv444p", "nv12", "yuvj420p", "yuvj444p", "gray", "rgb24"],
)
def test_frame_gray_equals_ffmpeg_gray_conversion(pixel_format: str) -> None:
    rng = np.random.default_rng(0)
    frame = av.VideoFrame(65, 33, pixel_format)  # odd sizes: padded rows, odd chroma
    for plane in frame.planes:
        buffer = np.frombuffer(plane, np.uint8)
        buffer[:] = rng.integers(0, 256, buffer.size)
    gray = frame_gray(frame)
    assert gray.shape == (33, 65) and gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, frame.to_ndarray(format="gray"))


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
    assert_same_tables(reference, tmp_path / "out", tmp_path)


def test_cvat_round_trip(reference: Path, tmp_path: Path) -> None:
    manifest, boxes = _reference_tables(reference)
    raw = export_cvat(reference / "frames", boxes, manifest, tmp_path / "exp")
    assert run_import(raw, tmp_path / "out", "cvat", {}) == 0
    assert_same_contract(reference, tmp_path / "out")
    assert_same_tables(reference, tmp_path / "out", tmp_path)


def _tiny_coco(root: Path) -> Path:
    """Two 2-frame videos of 8 x 10 PNG frames; returns the JSON (edited by the tests)."""
    data: dict = {"videos": [], "images": [], "annotations": []}
    for video_id in (1, 2):
        data["videos"].append({"id": video_id, "name": f"v{video_id}"})
        (root / "rawframes" / f"v{video_id}").mkdir(parents=True)
        for frame in (0, 1):
            name = f"v{video_id}/{frame:06d}.png"
            Image.fromarray(np.full((8, 10), 40 * video_id + frame, np.uint8)).save(
                root / "rawframes" / name
            )
            data["images"].append(
                {
                    "id": len(data["images"]) + 1,
                    "video_id": video_id,
                    "frame_id": frame,
                    "file_name": name,
                    "width": 10,
                    "height": 8,
                }
            )
    data["annotations"].append({"id": 1, "image_id": 1, "bbox": [1, 1, 3, 3], "instance_id": 1})
    path = root / "train.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d, r: (r / "rawframes" / "v2" / "000001.png").unlink(), "frame image not found"),
        (lambda d, r: d["images"][3].update(video_id=9), "unknown video_id"),
        (
            lambda d, r: d["annotations"].append({"id": 2, "image_id": 99, "bbox": [0, 0, 1, 1]}),
            "unknown or skipped image_id",
        ),
    ],
)
def test_cocovid_bad_input_one_line_or_skipped(tmp_path: Path, capsys, edit, problem) -> None:
    path = _tiny_coco(tmp_path)
    data = json.loads(path.read_text())
    edit(data, tmp_path)
    path.write_text(json.dumps(data))
    config = {"source": {"coco_json": [str(path)]}}
    assert run_import(tmp_path / "rawframes", tmp_path / "err", "cocovid", config) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and problem in message and "on_bad_input" in message
    assert (
        run_import(
            tmp_path / "rawframes", tmp_path / "skip", "cocovid", {**config, "on_bad_input": "skip"}
        )
        == 0
    )
    public = pd.read_csv(tmp_path / "skip" / "skipped.csv")
    private = pd.read_csv(tmp_path / "skip" / "linkage" / "skipped_inputs.csv")
    assert len(public) == 1 and problem in public["problem"][0]
    assert list(public.columns) == ["file_id", "problem"] and public["file_id"][0].startswith("F")
    assert not {"v1", "v2", "v1/", "v2/"} & set(public["problem"][0].replace("/", " ").split())
    assert private["file"][0]  # the private report names the raw file


def test_cocovid_box_outside_frame_is_a_bad_annotation(tmp_path: Path, capsys) -> None:
    path = _tiny_coco(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"][0]["bbox"] = [5, 5, 9, 2]
    path.write_text(json.dumps(data))
    config = {"source": {"coco_json": [str(path)]}}
    assert run_import(tmp_path / "rawframes", tmp_path / "out", "cocovid", config) == 2
    assert "box outside the frame (10x8)" in capsys.readouterr().err
    unlabeled = pd.read_csv(tmp_path / "out" / "manifest.csv")
    assert unlabeled["n_frames"].tolist() == [2, 2]  # frames without boxes are simply unlabeled


def test_corrupt_video_and_malformed_xml(tmp_path: Path, capsys) -> None:
    raw = tmp_path / "raw"
    write_video(raw / "good.mkv", [np.full((8, 10), 9, np.uint8)] * 3)
    (raw / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    assert run_import(raw, tmp_path / "a", "video", {}) == 2
    assert "bad.mp4: not a readable video" in capsys.readouterr().err
    assert run_import(raw, tmp_path / "b", "video", {"on_bad_input": "skip"}) == 0
    assert pd.read_csv(tmp_path / "b" / "manifest.csv")["n_frames"].tolist() == [3]
    (raw / "task").mkdir()
    (raw / "task" / "annotations.xml").write_text("<annotations><meta><task>")
    assert run_import(raw, tmp_path / "c", "cvat", {}) == 2
    assert "task/annotations.xml: malformed XML" in capsys.readouterr().err


def test_non_dicom_import_needs_a_kept_area(tmp_path: Path, capsys) -> None:
    path = _tiny_coco(tmp_path)
    config = json.dumps({"source": {"format": "cocovid", "coco_json": [str(path)]}})
    code = dynbus(
        [
            "import",
            str(tmp_path / "rawframes"),
            "--key",
            str(tmp_path / "k"),
            "--private",
            str(tmp_path / "p.csv"),
            "--out",
            str(tmp_path / "m.csv"),
            "--boxes",
            str(tmp_path / "b.csv"),
            "--specs",
            str(tmp_path / "s"),
            "--config",
            config,
        ]
    )
    assert code == 2 and "deid.fallback_box" in capsys.readouterr().err


def test_workflow_imports_cocovid_without_raw_names(reference: Path, tmp_path: Path) -> None:
    """The Snakefile with source.format cocovid runs import -> frames -> annotations ->
    duplicates -> split, and no raw folder name reaches results/, logs/ or .snakemake/."""
    manifest, boxes = _reference_tables(reference)
    coco = export_cocovid(reference / "frames", boxes, manifest, tmp_path / "buv", "DOE^JANE_")
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(raw_dir=str(tmp_path / "buv" / "rawframes"))
    config["simulate"]["enabled"] = False
    config["source"].update(format="cocovid", coco_json=[str(coco)], patient="folder")
    config["deid"]["fallback_box"] = KEEP_ALL
    config["split"]["fractions"] = {"train": 0.34, "val": 0.33, "test": 0.33}
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_workflow(work, "--printshellcmds", "results/splits.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((work / "results" / "frames").iterdir())) == len(manifest)
    assert_same_contract(reference, _as_import_result(work))
    assert_patient_folder_absent(work, result.stdout + result.stderr)
    assert b"DOE^JANE" in (work / "linkage" / "manifest.csv").read_bytes()


def _as_import_result(work: Path) -> Path:
    """The workflow's outputs laid out as ``run_import`` writes them (for assert_same_contract)."""
    view = work / "view"
    (view / "linkage").mkdir(parents=True)
    (view / "linkage" / "manifest.csv").symlink_to(work / "linkage" / "manifest.csv")
    for name in ("manifest.csv", "annotations.csv", "frames"):
        (view / name).symlink_to(work / "results" / name)
    return view


def _tiny_cvat_zip(root: Path, box_frame: int, xbr: float = 4.0) -> Path:
    """CVAT's "Export task dataset" zip of a task kept from video frame 6 with step 2: three
    8 x 10 frames in ``images/frame_{6,8,10:06d}.png`` and one box of track 3."""
    boxes = pd.DataFrame({"lesion_id": [3], "frame": [0], "x1": [1.0], "y1": [1.0]})
    xml = cvat_xml(3, 8, 10, boxes.assign(x2=xbr, y2=4.0), start=6, step=2)
    xml.getroot().find("track/box").set("frame", str(box_frame))
    path = root / "raw" / "DOE^JANE" / "task.zip"
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("annotations.xml", ElementTree.tostring(xml.getroot()))
        for number in (6, 8, 10):
            archive.writestr(
                f"images/frame_{number:06d}.png", png_bytes(np.full((8, 10), number, np.uint8))
            )
    return path


def test_cvat_zip_box_frames_are_video_frames(tmp_path: Path) -> None:
    _tiny_cvat_zip(tmp_path, box_frame=10)
    assert run_import(tmp_path / "raw", tmp_path / "out", "cvat", {}) == 0
    frames = frame_arrays(
        tmp_path / "out" / "frames",
        pd.read_csv(tmp_path / "out" / "manifest.csv")["sequence_id"][0],
    )
    assert [int(frame[0, 0]) for frame in frames] == [6, 8, 10]
    boxes = pd.read_csv(tmp_path / "out" / "annotations.csv")
    assert boxes[["frame", "lesion_id"]].values.tolist() == [[2, 3]]  # video frame 10 = 6 + 2 * 2
    assert not (tmp_path / "raw" / "DOE^JANE" / "images").exists()  # read in place


def test_cvat_box_off_the_task_frames_names_xml_track_and_frame(tmp_path: Path, capsys) -> None:
    _tiny_cvat_zip(tmp_path, box_frame=7)
    assert run_import(tmp_path / "raw", tmp_path / "err", "cvat", {}) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert "DOE^JANE/task.zip: track 3, frame 7: not a frame of the task" in message
    assert "start_frame 6, step 2" in message
    skip = {"on_bad_input": "skip"}
    assert run_import(tmp_path / "raw", tmp_path / "skip", "cvat", skip) == 0
    public = pd.read_csv(tmp_path / "skip" / "skipped.csv")
    assert public["problem"].str.startswith("track 3, frame 7: not a frame").tolist() == [True]
    assert "DOE" not in public.to_csv()


def test_zip_that_is_not_a_cvat_export_is_listed(tmp_path: Path, capsys) -> None:
    _tiny_cvat_zip(tmp_path, box_frame=6)
    with zipfile.ZipFile(tmp_path / "raw" / "photos.zip", "w") as archive:
        archive.writestr("readme.txt", "not a task")
    assert run_import(tmp_path / "raw", tmp_path / "err", "cvat", {}) == 2
    assert "photos.zip: zip without annotations.xml" in capsys.readouterr().err
    assert run_import(tmp_path / "raw", tmp_path / "skip", "cvat", {"on_bad_input": "skip"}) == 0
    private = pd.read_csv(tmp_path / "skip" / "linkage" / "skipped_inputs.csv")
    assert private[["file", "problem"]].values.tolist() == [
        ["photos.zip", "zip without annotations.xml (not a CVAT task export)"]
    ]
    with zipfile.ZipFile(tmp_path / "raw" / "photos.zip", "w") as archive:
        archive.writestr("annotations.xml", "<annotations><meta><task>")
    assert run_import(tmp_path / "raw", tmp_path / "xml", "cvat", {}) == 2
    assert "photos.zip: annotations.xml inside: malformed XML" in capsys.readouterr().err


def _bad_box_case(fmt: str, root: Path) -> tuple[Path, dict, list[str], str, str]:
    """One box outside its 10 x 8 frame, written the way ``fmt`` writes boxes: (raw folder,
    config, extra import arguments, the user's file and the locator an error must name)."""
    if fmt == "cocovid":
        path = _tiny_coco(root)
        data = json.loads(path.read_text())
        data["annotations"].append({"id": 7, "image_id": 4, "bbox": [5, 5, 9, 2], "instance_id": 1})
        path.write_text(json.dumps(data))
        locator = "annotation id 7 (image id 4, frame_id 1)"
        return root / "rawframes", {"source": {"coco_json": [str(path)]}}, [], str(path), locator
    if fmt == "cvat":
        _tiny_cvat_zip(root, box_frame=8, xbr=12.0)
        return root / "raw", {}, [], "DOE^JANE/task.zip:annotations.xml", "track 3, frame 8"
    write_video(root / "raw" / "v.mkv", [np.full((8, 10), 9, np.uint8)] * 3)
    csv = root / "annotations.csv"
    csv.write_text("file,frame,lesion_id,x1,y1,x2,y2\n\nv.mkv,0,1,1,1,4,4\nv.mkv,2,1,1,1,12,4\n")
    return root / "raw", {}, ["--annotations", str(csv)], str(csv), "line 4"


@pytest.mark.parametrize("fmt", ["cocovid", "cvat", "video"])
def test_bad_box_names_the_users_file_and_locator(fmt: str, tmp_path: Path, capsys) -> None:
    raw, config, extra, source, locator = _bad_box_case(fmt, tmp_path)
    assert run_import(raw, tmp_path / "err", fmt, config, *extra) == 2
    message = capsys.readouterr().err.strip()
    assert message.endswith(
        f"{source} {locator}: box outside the frame (10x8); "
        "fix the file or set on_bad_annotation: skip"
    )
    assert "boxes.csv" not in message and len(message.splitlines()) == 1
    skip = {**config, "on_bad_annotation": "skip"}
    assert run_import(raw, tmp_path / "skip", fmt, skip, *extra) == 0
    public = pd.read_csv(tmp_path / "skip" / "bad.csv")
    assert public[["locator", "problem"]].values.tolist() == [
        [locator, "box outside the frame (10x8)"]
    ]
    private = pd.read_csv(tmp_path / "skip" / "linkage" / "bad_annotations.csv")
    assert private[["source", "locator"]].values.tolist() == [[source, locator]]
    kept = pd.read_csv(tmp_path / "skip" / "annotations.csv")
    assert len(kept) == (0 if fmt == "cvat" else 1)  # the good box of the file stays


def test_missing_coco_image_names_the_json_that_lists_it(tmp_path: Path, capsys) -> None:
    path = _tiny_coco(tmp_path)
    other = tmp_path / "val.json"
    other.write_text(json.dumps({"videos": [], "images": [], "annotations": []}))
    (tmp_path / "rawframes" / "v2" / "000001.png").unlink()
    config = {"source": {"coco_json": [str(other), str(path)]}}
    assert run_import(tmp_path / "rawframes", tmp_path / "err", "cocovid", config) == 2
    message = capsys.readouterr().err
    assert (
        f"v2/000001.png: frame image not found (video id 2, image id 4) (listed in {path})"
        in message
    )
    skip = {**config, "on_bad_input": "skip"}
    assert run_import(tmp_path / "rawframes", tmp_path / "skip", "cocovid", skip) == 0
    private = pd.read_csv(tmp_path / "skip" / "linkage" / "skipped_inputs.csv")
    assert private["detail"].tolist() == [f"listed in {path}"]
    assert str(path) not in (tmp_path / "skip" / "skipped.csv").read_text()


def _ultradet(
    root: Path, on_disk: range, listed: dict[int, list[float]], name: str = "{}.jpg"
) -> Path:
    """UltraDet's layout: ``rawframes/v1/{name}`` (formatted with the frame number) for every
    frame number in ``on_disk``; the JSON lists only the frames ``listed`` (frame_id -> box)."""
    folder = root / "rawframes" / "v1"
    folder.mkdir(parents=True)
    for number in on_disk:
        Image.fromarray(np.full((8, 10), 10 * number, np.uint8)).save(
            folder / name.format(number), quality=100
        )
    data: dict = {"videos": [{"id": 1, "name": "v1"}], "images": [], "annotations": []}
    for image_id, (frame_id, bbox) in enumerate(sorted(listed.items()), start=1):
        data["images"].append(
            {
                "id": image_id,
                "video_id": 1,
                "frame_id": frame_id,
                "file_name": "v1/" + name.format(frame_id),
                "width": 10,
                "height": 8,
            }
        )
        data["annotations"].append(
            {"id": image_id, "image_id": image_id, "bbox": bbox, "instance_id": 1}
        )
    path = root / "test.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("name", ["{}.jpg", "img_{:05d}.png"])
def test_ultradet_frames_keep_their_numbers(tmp_path: Path, name: str) -> None:
    path = _ultradet(tmp_path, range(0, 12), {3: [1, 1, 2, 2], 9: [2, 2, 3, 3]}, name)
    config = {"source": {"coco_json": [str(path)]}}
    assert run_import(tmp_path / "rawframes", tmp_path / "out", "cocovid", config) == 0
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv")
    assert manifest["n_frames"].tolist() == [12]  # the unlisted frames are imported too
    frames = frame_arrays(tmp_path / "out" / "frames", manifest["sequence_id"][0])
    assert [round(float(frame.mean()) / 10) for frame in frames] == list(range(12))
    boxes = pd.read_csv(tmp_path / "out" / "annotations.csv")
    assert boxes["frame"].tolist() == [3, 9]  # six frames apart, as in the video


def test_ultradet_gap_without_images_is_a_bad_input(tmp_path: Path, capsys) -> None:
    path = _ultradet(tmp_path, range(2, 5), {2: [1, 1, 2, 2], 7: [2, 2, 3, 3]})
    (tmp_path / "rawframes" / "v1" / "7.jpg").write_bytes(
        (tmp_path / "rawframes" / "v1" / "2.jpg").read_bytes()
    )
    config = {"source": {"coco_json": [str(path)]}}
    assert run_import(tmp_path / "rawframes", tmp_path / "out", "cocovid", config) == 2
    message = capsys.readouterr().err
    assert (
        "v1: video id 1: no image of frame 5 (2 frames missing between frame_id 2 and 7)" in message
    )
    assert f"listed in {path}" in message


def test_workflow_imports_a_cvat_zip_and_reports_its_bad_box(tmp_path: Path) -> None:
    """The Snakefile on CVAT's task-export zip (task from video frame 6, step 2, one box on a
    frame the task does not keep, one outside its frame) with both skip modes: the frames are
    imported, each bad box is listed by track and frame in the public reports, the private
    reports name the zip's XML, and no raw name reaches results/, logs/ or the console."""
    zip_path = _tiny_cvat_zip(tmp_path, box_frame=7)
    with zipfile.ZipFile(zip_path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    xml = ElementTree.fromstring(files["annotations.xml"])
    track = xml.find("track")
    second = ElementTree.SubElement(xml, "track", id="4", label="lesion", source="manual")
    for frame, xbr in (("8", "12.00"), ("10", "4.00")):
        box = ElementTree.SubElement(second, "box", dict(track.find("box").attrib))
        box.set("frame", frame)
        box.set("xbr", xbr)
    files["annotations.xml"] = ElementTree.tostring(xml)
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(raw_dir=str(tmp_path / "raw"), on_bad_input="skip", on_bad_annotation="skip")
    config["simulate"]["enabled"] = False
    config["source"].update(format="cvat", patient="folder")
    config["deid"]["fallback_box"] = KEEP_ALL
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_workflow(work, "--printshellcmds", "results/annotations.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    boxes = pd.read_csv(work / "results" / "annotations.csv")
    assert boxes[["frame", "lesion_id"]].values.tolist() == [[2, 4]]  # video frame 10
    skipped = pd.read_csv(work / "results" / "reports" / "skipped_inputs.csv")
    assert skipped["problem"].str.startswith("track 3, frame 7: not a frame of the task").all()
    bad = pd.read_csv(work / "results" / "reports" / "bad_annotations.csv")
    assert bad[["locator", "problem"]].values.tolist() == [
        ["track 4, frame 8", "box outside the frame (10x8)"]
    ]
    private = pd.read_csv(work / "linkage" / "bad_annotations.csv")
    assert private["source"].tolist() == ["DOE^JANE/task.zip:annotations.xml"]
    assert_patient_folder_absent(work, result.stdout + result.stderr)
    assert "imported_annotations" not in bad.to_csv()
