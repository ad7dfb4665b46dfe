"""ImageNet-VID-style COCO JSON (CVA-Net / UltraDet breast-ultrasound video benchmark).

Layout, as CVA-Net's ``datasets/coco.py`` and UltraDet's ``data/datasets.py`` read it: an image
root (``rawframes/``, the raw folder here) and JSON files with ``videos`` (``id``, ``name`` = the
video's frame folder under the root), ``images`` (``id``, ``video_id``, ``frame_id``,
``file_name`` relative to the root, ``width``, ``height``) and ``annotations`` (``image_id``,
``bbox`` = x, y, width, height in pixels, ``instance_id`` = the lesion's track, ``category_id``,
optional ``iscrowd``). A video's frames are its images in ``frame_id`` order (frame index = rank,
so sparse frame ids stay in order); images without a box are unlabeled frames. Boxes with
``iscrowd: 1`` are dropped, as CVA-Net does. ``instance_id`` (or ``track_id``) names the lesion;
without one, all boxes of a video are one lesion.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dynbus.errors import InputFileError
from dynbus.sources.common import Problems, Scan, SourceSequence, box_row, patient_key


def load_coco_json(path: Path) -> dict[str, Any]:
    """Read one COCO-VID JSON; raise InputFileError if it is missing, malformed or lacks a key."""
    if not path.is_file():
        raise InputFileError(path, "COCO-VID JSON not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputFileError(path, f"not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise InputFileError(path, "not a COCO-VID file: not a JSON object")
    missing = [key for key in ("videos", "images") if not isinstance(data.get(key), list)]
    if not isinstance(data.get("annotations", []), list):
        missing.append("annotations")
    if missing:
        raise InputFileError(path, f"not a COCO-VID file: no list {', '.join(missing)}")
    return data


def _lesion_id(annotation: dict[str, Any]) -> str:
    for key in ("instance_id", "track_id"):
        if annotation.get(key) is not None:
            return str(annotation[key])
    return "1"


def _xyxy(bbox: Any) -> list[float] | None:
    """``bbox`` (x, y, w, h) as x1, y1, x2, y2, or None when it is not four numbers."""
    if not isinstance(bbox, list) or len(bbox) != 4:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox):
        return None
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h]


def lesion_boxes(
    data: dict[str, Any], labels: list[str]
) -> Iterator[tuple[dict[str, Any], list[float] | None, str]]:
    """``(annotation, x1 y1 x2 y2 or None if malformed, lesion id)`` of every kept annotation:
    not ``iscrowd`` and, when ``labels`` is not empty, of a category named in ``labels``."""
    names = {c.get("id"): str(c.get("name", "")) for c in data.get("categories") or []}
    for annotation in data.get("annotations") or []:
        if annotation.get("iscrowd"):
            continue
        if labels and names.get(annotation.get("category_id")) not in labels:
            continue
        yield annotation, _xyxy(annotation.get("bbox")), _lesion_id(annotation)


def read_coco_json(
    data: dict[str, Any], name: str, raw_dir: Path, settings: dict[str, Any], problems: Problems
) -> tuple[list[SourceSequence], list[dict[str, Any]]]:
    """Sequences and raw box rows of one loaded COCO-VID JSON (``name``: its path)."""
    videos = {video.get("id"): video for video in data["videos"]}
    frames: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for image in data["images"]:
        if image.get("video_id") not in videos:
            problems.add(
                name, f"image id {image.get('id')} has unknown video_id {image.get('video_id')}"
            )
            continue
        frames[image["video_id"]].append(image)
    sequences, place = [], {}
    for video_id, video in videos.items():
        found = _video_sequence(video_id, video, frames[video_id], raw_dir, settings, problems)
        if found is None:
            continue
        sequence, image_ids = found
        sequences.append(sequence)
        for index, image_id in enumerate(image_ids):
            place[image_id] = (sequence.file, index)
    boxes = []
    for annotation, xyxy, lesion in lesion_boxes(data, settings["labels"]):
        where = place.get(annotation.get("image_id"))
        if where is None or xyxy is None:
            reason = "unknown or skipped image_id" if where is None else "bbox is not 4 numbers"
            problems.add(name, f"annotation id {annotation.get('id')}: {reason}")
            continue
        boxes.append(box_row(where[0], where[1], lesion, xyxy))
    return sequences, boxes


def _video_sequence(
    video_id: Any,
    video: dict[str, Any],
    images: list[dict[str, Any]],
    raw_dir: Path,
    settings: dict[str, Any],
    problems: Problems,
) -> tuple[SourceSequence, list[Any]] | None:
    """The sequence of one video and its image ids in frame order; None (reported) when one of
    its frames is unusable."""
    file = str(video.get("name") or video_id)
    if not images:
        problems.add(file, f"video id {video_id} has no images")
        return None
    images = sorted(images, key=lambda image: (image.get("frame_id") or 0, image.get("id")))
    sizes = {(image.get("height"), image.get("width")) for image in images}
    frame_ids = [image.get("frame_id") for image in images]
    if len(set(frame_ids)) != len(frame_ids):
        problems.add(file, f"video id {video_id}: frame_id repeated")
        return None
    if len(sizes) != 1 or not all(isinstance(v, int) and v > 0 for v in next(iter(sizes))):
        problems.add(file, f"video id {video_id}: images lack one common width and height")
        return None
    for image in images:
        if not (raw_dir / str(image.get("file_name"))).is_file():
            problems.add(
                str(image.get("file_name")),
                f"frame image not found (video id {video_id}, image id {image.get('id')})",
            )
            return None
    rows, columns = next(iter(sizes))
    sequence = SourceSequence(
        file=file,
        sequence_key=f"cocovid:{file}",
        patient_key=patient_key(file, settings["patient"]),
        n_frames=len(images),
        rows=rows,
        columns=columns,
        frames={"kind": "images", "paths": [str(image["file_name"]) for image in images]},
    )
    return sequence, [image.get("id") for image in images]


def scan(raw_dir: Path, settings: dict[str, Any], problems: Problems) -> Scan:
    """Read every configured COCO-VID JSON (``source.coco_json``) against the image root."""
    if not settings["coco_json"]:
        raise InputFileError("source.coco_json", "no COCO-VID JSON configured")
    sequences, boxes = [], []
    for json_path in settings["coco_json"]:
        try:
            data = load_coco_json(Path(json_path))
        except InputFileError as error:
            problems.add(str(json_path), error.problem)
            continue
        found, rows = read_coco_json(data, str(json_path), raw_dir, settings, problems)
        sequences += found
        boxes += rows
    return Scan(sequences, boxes, problems)
