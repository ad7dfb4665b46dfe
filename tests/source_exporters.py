"""Small exporters for the import tests: a DICOM-path result -> COCO-VID / video / CVAT folders.

Each exporter takes the DICOM path's contract (``frames/{seq}``, ``annotations.csv``, public
manifest) and writes the other format the way its tools do, so that importing it again must give
back the same frames and boxes. Folders are named ``{patient}/{seq}`` so the patient grouping can
be compared too.
"""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import av
import numpy as np
import pandas as pd
from PIL import Image

from dynbus.cli import main as dynbus


def frame_arrays(frames_dir: Path, sequence_id: str) -> list[np.ndarray]:
    """The PNG frames of one sequence, in order."""
    n_frames = json.loads((frames_dir / sequence_id / "meta.json").read_text())["n_frames"]
    return [
        np.asarray(Image.open(frames_dir / sequence_id / f"{i:06d}.png")) for i in range(n_frames)
    ]


def export_cocovid(
    frames_dir: Path, annotations: pd.DataFrame, manifest: pd.DataFrame, out: Path, prefix: str = ""
) -> Path:
    """``out/rawframes/{prefix}{patient}/{seq}/{frame:06d}.png`` + ``out/train.json`` (returned);
    ``prefix`` lets a test give the folders PHI-like names."""
    data: dict[str, list] = {
        "videos": [],
        "images": [],
        "annotations": [],
        "categories": [{"id": 1, "name": "lesion"}],
    }
    image_ids: dict[tuple[str, int], int] = {}
    for video_id, row in enumerate(manifest.itertuples(), start=1):
        name = f"{prefix}{row.patient_id}/{row.sequence_id}"
        data["videos"].append({"id": video_id, "name": name})
        folder = out / "rawframes" / name
        shutil.copytree(
            frames_dir / row.sequence_id, folder, ignore=shutil.ignore_patterns("*.json")
        )
        for frame in range(row.n_frames):
            image_ids[(row.sequence_id, frame)] = len(image_ids) + 1
            data["images"].append(
                {
                    "id": len(image_ids),
                    "video_id": video_id,
                    "frame_id": frame,
                    "file_name": f"{name}/{frame:06d}.png",
                    "width": int(row.columns),
                    "height": int(row.rows),
                }
            )
    for box in annotations.itertuples():
        data["annotations"].append(
            {
                "id": len(data["annotations"]) + 1,
                "image_id": image_ids[(box.sequence_id, box.frame)],
                "category_id": 1,
                "instance_id": int(box.lesion_id),
                "iscrowd": 0,
                "bbox": [box.x1, box.y1, box.x2 - box.x1, box.y2 - box.y1],
            }
        )
    path = out / "train.json"
    path.write_text(json.dumps(data))
    return path


def write_video(path: Path, frames: list[np.ndarray], codec: str = "ffv1") -> None:
    """Encode gray frames losslessly: ffv1 keeps gray exactly, libx264 runs at qp 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width = frames[0].shape
        stream.pix_fmt = "gray" if codec == "ffv1" else "yuv444p"
        if codec == "libx264":
            stream.options = {"qp": "0", "preset": "ultrafast"}
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="gray")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def export_videos(
    frames_dir: Path,
    annotations: pd.DataFrame,
    manifest: pd.DataFrame,
    out: Path,
    suffix: str = ".mkv",
    codec: str = "ffv1",
) -> Path:
    """``out/videos/{patient}/{seq}{suffix}`` + ``out/annotations.csv`` (file = video path)."""
    files = {}
    for row in manifest.itertuples():
        files[row.sequence_id] = f"{row.patient_id}/{row.sequence_id}{suffix}"
        write_video(
            out / "videos" / files[row.sequence_id],
            frame_arrays(frames_dir, row.sequence_id),
            codec,
        )
    table = annotations.assign(file=annotations["sequence_id"].map(files))
    path = out / "annotations.csv"
    table[["file", "frame", "lesion_id", "x1", "y1", "x2", "y2"]].to_csv(path, index=False)
    return path


def cvat_xml(
    n_frames: int,
    rows: int,
    columns: int,
    boxes: pd.DataFrame,
    video: str | None = None,
    start: int = 0,
    step: int = 1,
) -> ElementTree.ElementTree:
    """A CVAT for video 1.1 document: one track per lesion, a box per annotated frame and an
    ``outside="1"`` box after each run of frames, as CVAT writes them: ``frame`` is the absolute
    video frame ``start + index * step`` of the task frame ``index`` in ``boxes``."""
    root = ElementTree.Element("annotations")
    ElementTree.SubElement(root, "version").text = "1.1"
    meta = ElementTree.SubElement(root, "meta")
    task = ElementTree.SubElement(meta, "task")
    for tag, value in [
        ("id", "1"),
        ("name", "task"),
        ("size", str(n_frames)),
        ("mode", "interpolation"),
        ("start_frame", str(start)),
        ("stop_frame", str(start + (n_frames - 1) * step)),
        ("frame_filter", f"step={step}" if step > 1 else ""),
    ]:
        ElementTree.SubElement(task, tag).text = value
    size = ElementTree.SubElement(task, "original_size")
    ElementTree.SubElement(size, "width").text = str(columns)
    ElementTree.SubElement(size, "height").text = str(rows)
    if video is not None:
        ElementTree.SubElement(meta, "source").text = video
    for lesion, rows_of in boxes.groupby("lesion_id"):
        track = ElementTree.SubElement(
            root, "track", id=str(lesion), label="lesion", source="manual"
        )
        frames = set(rows_of["frame"])
        for box in rows_of.itertuples():
            ElementTree.SubElement(
                track,
                "box",
                frame=str(start + box.frame * step),
                outside="0",
                occluded="0",
                keyframe="1",
                xtl=f"{box.x1:.2f}",
                ytl=f"{box.y1:.2f}",
                xbr=f"{box.x2:.2f}",
                ybr=f"{box.y2:.2f}",
                z_order="0",
            )
            if box.frame + 1 not in frames and box.frame + 1 < n_frames:
                ElementTree.SubElement(
                    track,
                    "box",
                    frame=str(start + (box.frame + 1) * step),
                    outside="1",
                    occluded="0",
                    keyframe="1",
                    xtl=f"{box.x1:.2f}",
                    ytl=f"{box.y1:.2f}",
                    xbr=f"{box.x2:.2f}",
                    ybr=f"{box.y2:.2f}",
                    z_order="0",
                )
    return ElementTree.ElementTree(root)


def export_cvat(
    frames_dir: Path, annotations: pd.DataFrame, manifest: pd.DataFrame, out: Path
) -> Path:
    """One task per sequence under ``out/cvat/{patient}/{seq}/``, in turn as CVAT hands them
    out: "Export task dataset" zips ``{seq}.zip`` of ``annotations.xml`` only, the task's video
    ``scan.mkv`` beside it, and with ``images/frame_{n:06d}.png`` inside (both of a task kept
    from video frame 6 with ``frame_filter`` step 2, so ``n`` and box frames are 6, 8, 10, ...),
    and an unzipped ``annotations.xml`` with ``images/`` (start 0, step 1)."""
    root = out / "cvat"
    for index, row in enumerate(manifest.itertuples()):
        task = root / row.patient_id / row.sequence_id
        task.mkdir(parents=True)
        frames = frame_arrays(frames_dir, row.sequence_id)
        boxes = annotations[annotations["sequence_id"] == row.sequence_id]
        variant = index % 3
        start, step = (6, 2) if variant < 2 else (0, 1)
        video = "scan.mkv" if variant == 0 else None
        xml = cvat_xml(row.n_frames, row.rows, row.columns, boxes, video, start, step)
        document = ElementTree.tostring(xml.getroot(), encoding="utf-8", xml_declaration=True)
        numbered = {start + i * step: array for i, array in enumerate(frames)}
        if variant == 0:
            filler = np.full_like(frames[0], 255)
            write_video(task / video, [numbered.get(n, filler) for n in range(max(numbered) + 1)])
        if variant < 2:
            with zipfile.ZipFile(task / f"{row.sequence_id}.zip", "w") as archive:
                archive.writestr("annotations.xml", document)
                for number, array in numbered.items() if variant == 1 else ():
                    archive.writestr(f"images/frame_{number:06d}.png", png_bytes(array))
        else:
            (task / "images").mkdir()
            for number, array in numbered.items():
                (task / "images" / f"frame_{number:06d}.png").write_bytes(png_bytes(array))
            (task / "annotations.xml").write_bytes(document)
    return root


def png_bytes(array: np.ndarray) -> bytes:
    """One gray frame as PNG file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def dicom_study(root: Path) -> Path:
    """Simulate a tiny study (3 patients, 6 sequences, 128 x 160) and run the DICOM path on it
    (manifest, deidentify, frames, annotations) into ``root``; returns ``root``."""
    sim = '{"simulate": {"patients": 3, "frames": [6, 8], "rows": 128, "columns": 160}}'
    assert dynbus(["simulate", "--out", str(root / "raw"), "--config", sim]) == 0
    key, private = str(root / "key.hex"), root / "linkage" / "manifest.csv"
    manifest = ["manifest", str(root / "raw"), "--key", key, "--private", str(private)]
    assert dynbus([*manifest, "--out", str(root / "manifest.csv")]) == 0
    table = pd.read_csv(private)
    for seq, rows in table.groupby("sequence_id"):
        deid = root / "deid" / f"{seq}.dcm"
        files = [str(root / "raw" / f) for f in rows.sort_values("position")["file"]]
        assert dynbus(["deidentify", *files, str(deid), "--key", key]) == 0
        assert dynbus(["frames", str(deid), str(root / "frames" / seq), "--threads", "1"]) == 0
    annotations = ["annotations", str(root / "raw" / "annotations.csv")]
    annotations += ["--private-manifest", str(private), "--manifest", str(root / "manifest.csv")]
    annotations += ["--out", str(root / "annotations.csv"), "--report", str(root / "bad.csv")]
    assert dynbus(annotations) == 0
    return root
