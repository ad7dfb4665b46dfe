"""Plain video files (``.mp4``, ``.avi``, ``.mov``, ``.mkv``) decoded with PyAV.

Every video under the raw folder is one sequence; its frames are the decoded frames in order
(frame index = decoded frame index). Boxes come from a COCO-VID JSON (``source.coco_json``:
``videos[].name`` is the video's path under the raw folder, with or without its suffix, and
``images[].frame_id`` the decoded frame index) or from ``annotations.csv``
(``file, frame, lesion_id, x1, y1, x2, y2``, ``file`` = the video's path under the raw folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np

from dynbus.errors import InputFileError
from dynbus.ingest.annotations import read_raw_annotations
from dynbus.ingest.sources.cocovid import annotation_locator, lesion_boxes, load_coco_json
from dynbus.ingest.sources.common import (
    VIDEO_SUFFIXES,
    Problems,
    Scan,
    SourceSequence,
    box_row,
    patient_key,
)


def video_files(raw_dir: Path) -> list[Path]:
    """Every video file under ``raw_dir`` (by suffix), sorted."""
    return sorted(
        path
        for path in raw_dir.rglob("*")
        if path.is_file()
        and path.suffix.lower() in VIDEO_SUFFIXES
        and not path.name.startswith(".")
    )


def probe(path: Path) -> tuple[int, int, int, float | None]:
    """``(n_frames, rows, columns, frame_time_ms)`` of a video; ``n_frames`` counts the frames
    that decode, which must be every frame its container lists (its packets; for MP4 and MOV,
    the samples of its index).

    Raises InputFileError when the file is not a readable video with at least one frame, or is
    truncated (fewer frames decode than it lists).
    """
    listed = decoded = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputFileError(path, "no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rows, columns = stream.codec_context.height, stream.codec_context.width
            rate = stream.average_rate or stream.guessed_rate
            for packet in container.demux(stream):
                listed += 1 if packet.size else 0
                decoded += len(stream.decode(packet))
            if "mp4" in container.format.name:  # MP4/MOV index every sample, read or not
                listed = max(listed, stream.frames)
    except (av.FFmpegError, UnicodeDecodeError) as error:
        if decoded == 0:
            raise InputFileError(path, f"not a readable video ({error})") from error
        raise InputFileError(
            path, f"truncated or corrupt video: {decoded} decodable frames, then ({error})"
        ) from error
    if decoded < listed:
        raise InputFileError(
            path, f"truncated video: {decoded} decodable frames of the {listed} it lists"
        )
    if decoded == 0 or rows == 0 or columns == 0:
        raise InputFileError(path, "video has no frames")
    return decoded, rows, columns, (1000.0 / float(rate) if rate else None)


# 8-bit pixel formats whose first plane is luma, by the range FFmpeg's gray conversion assumes for
# them: limited (MPEG, 16-235) luma is stretched to full range, full-range (JPEG) luma kept as is.
LIMITED_LUMA_FORMATS = frozenset(
    {"yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "yuv410p", "nv12", "nv21"}
)
FULL_LUMA_FORMATS = frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "gray"})
LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def frame_gray(frame: av.VideoFrame) -> np.ndarray:
    """One decoded frame as 8-bit full-range gray, equal to ``frame.to_ndarray(format="gray")``.

    For 8-bit YUV the luma plane is read directly (and limited range stretched by a table): this
    skips swscale's conversion, a quarter of the decoding time of an H.264 video. Other formats
    go through swscale.
    """
    name = frame.format.name
    if name not in LIMITED_LUMA_FORMATS and name not in FULL_LUMA_FORMATS:
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8)[: frame.height * plane.line_size]
    luma = rows.reshape(frame.height, plane.line_size)[:, : frame.width]
    return LIMITED_TO_FULL[luma] if name in LIMITED_LUMA_FORMATS else luma.copy()


def decode_gray(path: Path) -> Iterator[np.ndarray]:
    """The frames of a video as 8-bit gray images (luma, full range), in decoding order."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame_gray(frame)
    except av.FFmpegError as error:
        raise InputFileError(path, f"corrupt video ({error})") from error


def _coco_boxes(
    settings: dict[str, Any], files: set[str], problems: Problems
) -> list[dict[str, Any]]:
    """Raw box rows from the COCO-VID JSON files, ``frame_id`` taken as the decoded index."""
    by_stem = {str(Path(file).with_suffix("")): file for file in files}
    rows = []
    for json_path in settings["coco_json"]:
        try:
            data = load_coco_json(Path(json_path))
        except InputFileError as error:
            problems.add(str(json_path), error.problem)
            continue
        videos = {}
        for video in data["videos"]:
            name = str(video.get("name") or video.get("file_name") or "")
            file = name if name in files else by_stem.get(name)
            if file is None:
                problems.add(str(json_path), f"video id {video.get('id')} matches no video file")
            videos[video.get("id")] = file
        images = {}
        for image in data["images"]:
            if image.get("video_id") not in videos:
                problems.add(str(json_path), f"image id {image.get('id')} has unknown video_id")
            elif videos[image["video_id"]] is not None:
                images[image.get("id")] = (videos[image["video_id"]], image.get("frame_id"))
        for annotation, xyxy, lesion in lesion_boxes(data, settings["labels"]):
            where = images.get(annotation.get("image_id"))
            if where is None or xyxy is None:
                reason = "unknown or skipped image_id" if where is None else "bbox not 4 numbers"
                problems.add(str(json_path), f"{annotation_locator(annotation)}: {reason}")
                continue
            locator = annotation_locator(annotation, where[1])
            rows.append(box_row(where[0], where[1], lesion, xyxy, str(json_path), locator))
    return rows


def csv_boxes(annotations: Path) -> list[dict[str, Any]]:
    """Raw box rows of ``annotations.csv``, each located by its real line in that file."""
    table = read_raw_annotations(annotations)
    return [
        box_row(
            row.file,
            row.frame,
            row.lesion_id,
            [row.x1, row.y1, row.x2, row.y2],
            str(annotations),
            f"line {row.line}",
        )
        for row in table.itertuples()
    ]


def scan(
    raw_dir: Path, settings: dict[str, Any], problems: Problems, annotations: Path | None
) -> Scan:
    """Probe every video under ``raw_dir``; read boxes from COCO-VID JSON or ``annotations``."""
    sequences = []
    for path in video_files(raw_dir):
        file = path.relative_to(raw_dir).as_posix()
        try:
            n_frames, rows, columns, frame_time = probe(path)
        except InputFileError as error:
            problems.add(file, error.problem)
            continue
        sequences.append(
            SourceSequence(
                file=file,
                sequence_key=f"video:{file}",
                patient_key=patient_key(file, settings["patient"]),
                n_frames=n_frames,
                rows=rows,
                columns=columns,
                frames={"kind": "video", "path": file, "indices": None},
                frame_time_ms=frame_time,
            )
        )
    files = {sequence.file for sequence in sequences}
    if settings["coco_json"]:
        boxes = _coco_boxes(settings, files, problems)
    elif annotations is not None:
        boxes = csv_boxes(annotations)
    else:
        boxes = []
    return Scan(sequences, boxes, problems)
