"""Write RGB frames as a video file: MP4 through PyAV (H.264, else MPEG-4 part 2), else a GIF.

The encoder is the first of ``MP4_CODECS`` that this PyAV/FFmpeg build can open and encode
with; without one, ``video_format("auto")`` falls back to an animated GIF (Pillow). Files are
written to a temporary sibling and renamed. The encoder runs single-threaded, so the same
frames give the same bytes.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from dynbus.errors import DynbusError
from dynbus.io.atomic import atomic_path

MP4_CODECS = ("libx264", "libopenh264", "mpeg4")
FORMATS = ("auto", "mp4", "gif")
_OPTIONS = {"libx264": {"crf": "23", "preset": "ultrafast"}}


@functools.cache
def mp4_codec(candidates: tuple[str, ...] = MP4_CODECS) -> str | None:
    """The first codec of ``candidates`` that encodes a test frame into MP4, or None."""
    for name in candidates:
        try:
            _encode_mp4(io.BytesIO(), Image.new("RGB", (16, 16)), [], 10.0, name)
        except (av.FFmpegError, ValueError):
            continue
        return name
    return None


def video_format(requested: str) -> str:
    """``mp4`` or ``gif`` for ``requested`` (one of ``FORMATS``); ``mp4`` needs an encoder."""
    if requested not in FORMATS:
        raise DynbusError(f"video format must be one of {', '.join(FORMATS)}, not {requested!r}")
    if requested == "gif":
        return "gif"
    if mp4_codec() is not None:
        return "mp4"
    if requested == "mp4":
        raise DynbusError(f"no MP4 encoder in this PyAV/FFmpeg build (tried {MP4_CODECS})")
    return "gif"


def write_video(path: str | Path, frames: Iterable[Image.Image], fps: float, fmt: str) -> None:
    """Write ``frames`` (RGB, one even size for MP4; consumed one at a time) to ``path`` as
    ``fmt`` (``mp4`` or ``gif``)."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise DynbusError(f"{path}: no frame to write")
    with atomic_path(path) as tmp:
        if fmt == "mp4":
            codec = mp4_codec()
            if codec is None:
                raise DynbusError(f"no MP4 encoder in this PyAV/FFmpeg build (tried {MP4_CODECS})")
            with tmp.open("wb") as handle:
                _encode_mp4(handle, first, frames, fps, codec)
        else:
            first.save(
                tmp,
                format="GIF",
                save_all=True,
                append_images=frames,
                duration=max(round(1000 / fps), 20),
                loop=0,
            )


def _encode_mp4(
    handle: io.IOBase, first: Image.Image, rest: Iterable[Image.Image], fps: float, codec: str
) -> None:
    width, height = first.size
    with av.open(handle, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1
        stream.options = _OPTIONS.get(codec, {})
        for image in itertools.chain([first], rest):
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
