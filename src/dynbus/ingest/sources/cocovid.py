"""ImageNet-VID-style COCO JSON (CVA-Net / UltraDet breast-ultrasound video benchmark).

Layout, as CVA-Net's ``datasets/coco.py`` and UltraDet's ``data/datasets.py`` read it: an image
root (``rawframes/``, the raw folder here) and JSON files with ``videos`` (``id``, ``name`` = the
video's frame folder under the root), ``images`` (``id``, ``video_id``, ``frame_id``,
``file_name`` relative to the root, ``width``, ``height``) and ``annotations`` (``image_id``,
``bbox`` = x, y, width, height in pixels, ``instance_id`` = the lesion's track, ``category_id``,
optional ``iscrowd``). CVA-Net's JSON lists every frame; UltraDet's lists only frames with a box.
A video's frames are therefore every numbered image in its frame folder (named like the listed
ones, ``{prefix}{number}{suffix}`` with ``number`` = ``frame_id`` + a constant, e.g.
``000012.png``), listed or not, from the lowest number to the highest: frame index = ``frame_id``
- the lowest one, so windows and chains measure real gaps. Frames without a box, listed or not,
are unlabeled frames. A ``frame_id`` gap that no image on disk fills is a bad input (when names
do not carry the ``frame_id``, the listed images are the frames and must have no gap). Boxes with
``iscrowd: 1`` are dropped, as CVA-Net does. ``instance_id`` (or ``track_id``) names the lesion;
without one, all boxes of a video are one lesion.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from dynbus.errors import InputFileError
from dynbus.ingest.sources.common import Problems, Scan, SourceSequence, box_row, patient_key


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


def annotation_locator(annotation: dict[str, Any], frame_id: object = None) -> str:
    """Where an annotation sits in its JSON, by ids only (the public report may show it)."""
    image = f"image id {annotation.get('image_id')}"
    frame = "" if frame_id is None else f", frame_id {frame_id}"
    return f"annotation id {annotation.get('id')} ({image}{frame})"


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
        images = frames[video_id]
        found = _video_sequence(video_id, video, images, raw_dir, settings, problems, name)
        if found is None:
            continue
        sequence, indices = found
        sequences.append(sequence)
        for image_id, (index, frame_id) in indices.items():
            place[image_id] = (sequence.file, index, frame_id)
    boxes = []
    for annotation, xyxy, lesion in lesion_boxes(data, settings["labels"]):
        where = place.get(annotation.get("image_id"))
        if where is None or xyxy is None:
            reason = "unknown or skipped image_id" if where is None else "bbox is not 4 numbers"
            problems.add(name, f"{annotation_locator(annotation)}: {reason}")
            continue
        locator = annotation_locator(annotation, where[2])
        boxes.append(box_row(where[0], where[1], lesion, xyxy, name, locator))
    return sequences, boxes


NUMBERED = re.compile(r"(?P<prefix>.*?)(?P<number>\d+)(?P<suffix>\.[^.]+)")


def numbered_frames(raw_dir: Path, images: list[dict[str, Any]]) -> dict[int, str] | None:
    """Every image beside the listed ones named like them (``{prefix}{number}{suffix}``), by
    ``frame_id`` (``number`` - the listed images' constant offset; raw-relative names); None
    when the listed names are not numbered along ``frame_id`` in one folder."""
    patterns, offsets = set(), set()
    for image in images:
        name = PurePosixPath(str(image.get("file_name")))
        match = NUMBERED.fullmatch(name.name)
        if match is None:
            return None
        patterns.add((name.parent, match["prefix"], match["suffix"]))
        offsets.add(int(match["number"]) - image["frame_id"])
    if len(patterns) != 1 or len(offsets) != 1:
        return None
    (folder, prefix, suffix), offset = patterns.pop(), offsets.pop()
    found = {}
    for path in (raw_dir / folder).iterdir():
        match = NUMBERED.fullmatch(path.name)
        if match and (match["prefix"], match["suffix"]) == (prefix, suffix) and path.is_file():
            found.setdefault(int(match["number"]) - offset, (folder / path.name).as_posix())
    return found


def _video_sequence(
    video_id: Any,
    video: dict[str, Any],
    images: list[dict[str, Any]],
    raw_dir: Path,
    settings: dict[str, Any],
    problems: Problems,
    name: str,
) -> tuple[SourceSequence, dict[Any, tuple[int, int]]] | None:
    """The sequence of one video and, per image id, its frame index and ``frame_id``; None
    (reported) when one of its frames is unusable."""
    file = str(video.get("name") or video_id)
    listed_in = f"listed in {name}"
    if not images:
        problems.add(file, f"video id {video_id} has no images", listed_in)
        return None
    frame_ids = [image.get("frame_id") for image in images]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in frame_ids):
        problems.add(file, f"video id {video_id}: frame_id missing or not a number", listed_in)
        return None
    images = sorted(images, key=lambda image: image["frame_id"])
    frame_ids = sorted(frame_ids)
    sizes = {(image.get("height"), image.get("width")) for image in images}
    if len(set(frame_ids)) != len(frame_ids):
        problems.add(file, f"video id {video_id}: frame_id repeated", listed_in)
        return None
    if len(sizes) != 1 or not all(isinstance(v, int) and v > 0 for v in next(iter(sizes))):
        problems.add(file, f"video id {video_id}: images lack one common width and height")
        return None
    for image in images:
        if not (raw_dir / str(image.get("file_name"))).is_file():
            problems.add(
                str(image.get("file_name")),
                f"frame image not found (video id {video_id}, image id {image.get('id')})",
                listed_in,
            )
            return None
    on_disk = numbered_frames(raw_dir, images)
    if on_disk is None:
        on_disk = {image["frame_id"]: str(image["file_name"]) for image in images}
    first, last = min(on_disk), max(on_disk)
    gaps = [number for number in range(first, last + 1) if number not in on_disk]
    if gaps:
        problems.add(
            file,
            f"video id {video_id}: no image of frame {gaps[0]} ({len(gaps)} frames missing "
            f"between frame_id {first} and {last}); windowed fusion and FP chains need every frame",
            listed_in,
        )
        return None
    rows, columns = next(iter(sizes))
    sequence = SourceSequence(
        file=file,
        sequence_key=f"cocovid:{file}",
        patient_key=patient_key(file, settings["patient"]),
        n_frames=last - first + 1,
        rows=rows,
        columns=columns,
        frames={"kind": "images", "paths": [on_disk[n] for n in range(first, last + 1)]},
    )
    return sequence, {
        image.get("id"): (image["frame_id"] - first, image["frame_id"]) for image in images
    }


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
