"""CVAT "for video 1.1" XML exports: one task (one ``*.xml``) per sequence.

A task's frames are ``images/frame_{n:06d}.{png,jpg}`` beside the XML (CVAT's export with
images), or else its video beside the XML (the file named by ``<meta><source>``, or the only
video in the folder), of which the task keeps frames ``start_frame, start_frame + step, ...``
(``<frame_filter>step=N</frame_filter>``), ``<size>`` of them. Boxes are the ``<box>`` elements of
each ``<track>`` (CVAT writes one per frame, interpolated ones included); ``outside="1"`` marks
frames where the object is not visible and is skipped. The track id is the lesion id. Non-box
shapes (polygon, points, ...) are reported, not imported.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from dynbus.errors import InputFileError
from dynbus.sources.common import (
    VIDEO_SUFFIXES,
    Problems,
    Scan,
    SourceSequence,
    box_row,
    patient_key,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _int(element: ElementTree.Element | None, path: Path, what: str) -> int:
    try:
        return int((element.text or "").strip()) if element is not None else 0
    except ValueError as error:
        raise InputFileError(path, f"<{what}> is not an integer") from error


def parse_task(path: Path) -> ElementTree.Element:
    """The ``<annotations>`` root of a CVAT for video 1.1 XML; InputFileError when it is not one."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, UnicodeDecodeError) as error:
        raise InputFileError(path, f"malformed XML ({error})") from error
    if root.tag != "annotations" or root.find("meta") is None:
        raise InputFileError(path, "not a CVAT XML export (no <annotations><meta>)")
    if root.find("image") is not None:
        raise InputFileError(path, "a CVAT for images export; export the task as CVAT for video")
    if root.find("meta/task/size") is None and root.find("meta/job/size") is None:
        raise InputFileError(path, "no <size> in <meta>")
    return root


def _task(root: ElementTree.Element) -> ElementTree.Element:
    found = root.find("meta/task")
    return found if found is not None else root.find("meta/job")  # type: ignore[return-value]


def task_frames(path: Path, root: ElementTree.Element) -> tuple[dict[str, Any], int, int]:
    """How to decode the task's frames, and their rows and columns (from ``original_size``)."""
    task = _task(root)
    size = _int(task.find("size"), path, "size")
    rows = _int(task.find("original_size/height"), path, "height")
    columns = _int(task.find("original_size/width"), path, "width")
    if size < 1 or rows < 1 or columns < 1:
        raise InputFileError(path, "<size> or <original_size> missing or zero")
    images = path.parent / "images"
    if images.is_dir():
        paths = []
        for frame in range(size):
            found = [images / f"frame_{frame:06d}{s}" for s in IMAGE_SUFFIXES]
            existing = [p for p in found if p.is_file()]
            if not existing:
                raise InputFileError(path, f"images/frame_{frame:06d}.png (or .jpg) not found")
            paths.append(existing[0])
        return {"kind": "images", "paths": paths}, rows, columns
    named = (root.findtext("meta/source") or task.findtext("source") or "").strip()
    videos = [p for p in path.parent.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES]
    video = path.parent / named if named and (path.parent / named).is_file() else None
    if video is None and len(videos) == 1:
        video = videos[0]
    if video is None:
        raise InputFileError(path, "neither an images/ folder nor its one video beside it")
    step = re.fullmatch(r"\s*step\s*=\s*(\d+)\s*", task.findtext("frame_filter") or "")
    start = _int(task.find("start_frame"), path, "start_frame")
    indices = [start + frame * (int(step.group(1)) if step else 1) for frame in range(size)]
    return {"kind": "video", "path": video, "indices": indices}, rows, columns


def task_boxes(root: ElementTree.Element, file: str, labels: list[str]) -> list[dict[str, Any]]:
    """Raw box rows of every track's visible boxes (``outside="0"``)."""
    rows = []
    for track in root.iter("track"):
        if labels and track.get("label") not in labels:
            continue
        for box in track.iter("box"):
            if box.get("outside", "0") == "1":
                continue
            xyxy = [box.get(name) for name in ("xtl", "ytl", "xbr", "ybr")]
            rows.append(box_row(file, box.get("frame", ""), track.get("id", ""), xyxy))
    return rows


def _other_shapes(root: ElementTree.Element) -> set[str]:
    """Tags of the non-box shapes inside tracks (reported as not imported)."""
    return {child.tag for track in root.iter("track") for child in track if child.tag != "box"}


def scan(raw_dir: Path, settings: dict[str, Any], problems: Problems) -> Scan:
    """Read every ``*.xml`` under ``raw_dir`` as one CVAT for video task."""
    sequences, boxes = [], []
    for path in sorted(raw_dir.rglob("*.xml")):
        file = path.relative_to(raw_dir).as_posix()
        try:
            root = parse_task(path)
            frames, rows, columns = task_frames(path, root)
        except InputFileError as error:
            problems.add(file, error.problem)
            continue
        if frames["kind"] == "images":
            frames["paths"] = [p.relative_to(raw_dir).as_posix() for p in frames["paths"]]
        else:
            frames["path"] = frames["path"].relative_to(raw_dir).as_posix()
        others = _other_shapes(root)
        if others:
            problems.add(file, f"non-box shapes not imported: {', '.join(sorted(others))}")
        sequences.append(
            SourceSequence(
                file=file,
                sequence_key=f"cvat:{file}",
                patient_key=patient_key(file, settings["patient"]),
                n_frames=len(frames.get("paths") or frames["indices"]),
                rows=rows,
                columns=columns,
                frames=frames,
            )
        )
        boxes += task_boxes(root, file, settings["labels"])
    return Scan(sequences, boxes, problems)
