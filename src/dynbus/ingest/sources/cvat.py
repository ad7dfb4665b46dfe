"""CVAT "for video 1.1" exports: one task (an ``*.xml``, or CVAT's task-export ``*.zip`` holding
``annotations.xml``) per sequence.

The task keeps video frames ``start_frame, start_frame + step, ...`` (``<start_frame>``,
``<frame_filter>step=N</frame_filter>``), ``<size>`` of them, and CVAT numbers everything by those
absolute video frames: ``<box frame>`` and the exported ``images/frame_{n:06d}.{png,jpg}``. Task
frame i (the imported frame index) is video frame ``start_frame + i * step``; a box on any other
frame is a bad input. The frames are the ``images/`` beside the XML or inside the zip (read in
place, never extracted; numbered by video frame or, as older exports do, by task frame), or else
the task's video beside the XML or zip (the file named by ``<meta><source>``, or the only video in
the folder). Boxes are the ``<box>`` elements of each ``<track>`` (CVAT writes one per frame,
interpolated ones included); ``outside="1"`` marks frames where the object is not visible and is
skipped. The track id is the lesion id. Non-box shapes (polygon, points, ...) are reported, not
imported.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dynbus.errors import InputFileError
from dynbus.ingest.sources.common import (
    VIDEO_SUFFIXES,
    Problems,
    Scan,
    SourceSequence,
    box_row,
    patient_key,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TASK_XML = "annotations.xml"


@dataclass(frozen=True)
class Task:
    """One parsed export: its XML root, the frames it keeps and where its images are."""

    root: ElementTree.Element
    start: int
    step: int
    size: int
    images: dict[str, str]  # lower-case image name -> member / path, raw-relative for folders
    in_zip: bool

    def video_frames(self) -> list[int]:
        """The absolute video frame of each task frame."""
        return [self.start + index * self.step for index in range(self.size)]


def _int(element: ElementTree.Element | None, name: str, what: str) -> int:
    try:
        return int((element.text or "").strip()) if element is not None else 0
    except ValueError as error:
        raise InputFileError(name, f"<{what}> is not an integer") from error


def parse_task(document: Any, name: str) -> ElementTree.Element:
    """The ``<annotations>`` root of a CVAT for video 1.1 XML (a path or an open file);
    InputFileError naming ``name`` when it is not one."""
    try:
        root = ElementTree.parse(document).getroot()
    except (ElementTree.ParseError, UnicodeDecodeError) as error:
        raise InputFileError(name, f"malformed XML ({error})") from error
    if root.tag != "annotations" or root.find("meta") is None:
        raise InputFileError(name, "not a CVAT XML export (no <annotations><meta>)")
    if root.find("image") is not None:
        raise InputFileError(name, "a CVAT for images export; export the task as CVAT for video")
    if root.find("meta/task/size") is None and root.find("meta/job/size") is None:
        raise InputFileError(name, "no <size> in <meta>")
    return root


def _task_meta(root: ElementTree.Element) -> ElementTree.Element:
    found = root.find("meta/task")
    return found if found is not None else root.find("meta/job")  # type: ignore[return-value]


def load_task(path: Path, raw_dir: Path) -> Task:
    """Parse a task export (``*.xml``, or a ``*.zip`` with ``annotations.xml``) in place."""
    file = path.relative_to(raw_dir).as_posix()
    if path.suffix.lower() != ".zip":
        root = parse_task(path, file)
        folder = path.parent / "images"
        images = {
            p.name.lower(): p.relative_to(raw_dir).as_posix()
            for p in (folder.iterdir() if folder.is_dir() else [])
        }
        return _task(root, file, images, in_zip=False)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if TASK_XML not in names:
                raise InputFileError(file, f"zip without {TASK_XML} (not a CVAT task export)")
            with archive.open(TASK_XML) as document:
                try:
                    root = parse_task(document, file)
                except InputFileError as error:
                    raise InputFileError(file, f"{TASK_XML} inside: {error.problem}") from error
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise InputFileError(file, f"not a readable zip ({error})") from error
    images = {
        PurePosixPath(name).name.lower(): name
        for name in names
        if PurePosixPath(name).parent == PurePosixPath("images")
    }
    return _task(root, file, images, in_zip=True)


def _task(root: ElementTree.Element, name: str, images: dict[str, str], in_zip: bool) -> Task:
    meta = _task_meta(root)
    step = re.fullmatch(r"\s*step\s*=\s*(\d+)\s*", meta.findtext("frame_filter") or "")
    task = Task(
        root=root,
        start=_int(meta.find("start_frame"), name, "start_frame"),
        step=int(step.group(1)) if step else 1,
        size=_int(meta.find("size"), name, "size"),
        images=images,
        in_zip=in_zip,
    )
    if task.size < 1 or task.step < 1:
        raise InputFileError(name, "<size> or the frame_filter step is zero")
    return task


def task_frames(path: Path, raw_dir: Path, task: Task) -> tuple[dict[str, Any], int, int]:
    """How to decode the task's frames (raw-relative), and their rows and columns (from
    ``original_size``)."""
    file = path.relative_to(raw_dir).as_posix()
    meta = _task_meta(task.root)
    rows = _int(meta.find("original_size/height"), file, "height")
    columns = _int(meta.find("original_size/width"), file, "width")
    if rows < 1 or columns < 1:
        raise InputFileError(file, "<original_size> missing or zero")
    if task.images:
        paths = _numbered_images(task, file)
        frames = {"kind": "images", "paths": paths}
        return ({**frames, "zip": file} if task.in_zip else frames), rows, columns
    named = (task.root.findtext("meta/source") or meta.findtext("source") or "").strip()
    videos = [p for p in path.parent.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES]
    video = path.parent / named if named and (path.parent / named).is_file() else None
    if video is None and len(videos) == 1:
        video = videos[0]
    if video is None:
        raise InputFileError(file, "neither images/ nor its one video beside it")
    path_of = video.relative_to(raw_dir).as_posix()
    return {"kind": "video", "path": path_of, "indices": task.video_frames()}, rows, columns


def _numbered_images(task: Task, file: str) -> list[str]:
    """``images/frame_{n:06d}.*`` of every task frame, numbered by video frame, or by task frame
    (whichever numbering has them all)."""
    for numbers in (task.video_frames(), list(range(task.size))):
        found = [_image(task, number) for number in numbers]
        if all(found):
            return found  # type: ignore[return-value]
    missing = next(n for n in task.video_frames() if not _image(task, n))
    raise InputFileError(file, f"images/frame_{missing:06d}.png (or .jpg) not found")


def _image(task: Task, number: int) -> str | None:
    names = (f"frame_{number:06d}{suffix}" for suffix in IMAGE_SUFFIXES)
    return next((task.images[name] for name in names if name in task.images), None)


def task_boxes(
    task: Task, file: str, labels: list[str], problems: Problems
) -> list[dict[str, Any]]:
    """Raw box rows of every track's visible boxes (``outside="0"``), at task frame indices;
    a box on a video frame the task does not keep is reported."""
    source = f"{file}:{TASK_XML}" if task.in_zip else file
    index_of = {frame: index for index, frame in enumerate(task.video_frames())}
    rows = []
    for track in task.root.iter("track"):
        if labels and track.get("label") not in labels:
            continue
        for box in track.iter("box"):
            if box.get("outside", "0") == "1":
                continue
            frame = box.get("frame", "")
            locator = f"track {track.get('id', '')}, frame {frame}"
            index = index_of.get(int(frame)) if frame.strip().isdigit() else None
            if index is None:
                problems.add(
                    file,
                    f"{locator}: not a frame of the task (start_frame {task.start}, step "
                    f"{task.step}, {task.size} frames: start_frame + i * step)",
                )
                continue
            xyxy = [box.get(name) for name in ("xtl", "ytl", "xbr", "ybr")]
            rows.append(box_row(file, index, track.get("id", ""), xyxy, source, locator))
    return rows


def _other_shapes(root: ElementTree.Element) -> set[str]:
    """Tags of the non-box shapes inside tracks (reported as not imported)."""
    return {child.tag for track in root.iter("track") for child in track if child.tag != "box"}


def task_files(raw_dir: Path) -> list[Path]:
    """Every ``*.xml`` and ``*.zip`` under ``raw_dir`` (not hidden), sorted."""
    return sorted(
        path
        for path in raw_dir.rglob("*")
        if path.suffix.lower() in (".xml", ".zip")
        and path.is_file()
        and not path.name.startswith(".")
    )


def scan(raw_dir: Path, settings: dict[str, Any], problems: Problems) -> Scan:
    """Read every ``*.xml`` and CVAT task-export ``*.zip`` under ``raw_dir`` as one task."""
    sequences, boxes = [], []
    for path in task_files(raw_dir):
        file = path.relative_to(raw_dir).as_posix()
        try:
            task = load_task(path, raw_dir)
            frames, rows, columns = task_frames(path, raw_dir, task)
        except InputFileError as error:
            problems.add(file, error.problem)
            continue
        others = _other_shapes(task.root)
        if others:
            problems.add(file, f"non-box shapes not imported: {', '.join(sorted(others))}")
        sequences.append(
            SourceSequence(
                file=file,
                sequence_key=f"cvat:{file}",
                patient_key=patient_key(file, settings["patient"]),
                n_frames=task.size,
                rows=rows,
                columns=columns,
                frames=frames,
            )
        )
        boxes += task_boxes(task, file, settings["labels"], problems)
    return Scan(sequences, boxes, problems)
