"""Find text lines in an image with RapidOCR (PP-OCRv4 Chinese + English models on ONNX Runtime).

The engine and its models come from wheels in requirements.lock (``rapidocr-onnxruntime``,
``onnxruntime``): the same version on every install, nothing downloaded at run time. One
intra-op thread, so parallel jobs do not oversubscribe the machine and a line's score does not
depend on how the work was split. Only boxes leave this module, never the text: the
de-identification audit must not hold the burned-in text it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from typing import Any

import numpy as np

from dynbus.errors import DynbusError

Box = tuple[int, int, int, int]
ENGINE = "rapidocr-onnxruntime"
# Detection sized by the longer side (the package's default upscales the shorter side to 736 px,
# minutes for a banner strip); the text is upright, so no angle classifier.
SETTINGS: dict[str, Any] = {"det_limit_type": "max", "det_limit_side_len": 1280,
                            "use_cls": False, "intra_op_num_threads": 1,
                            "inter_op_num_threads": 1}  # fmt: skip


@dataclass(frozen=True)
class Word:
    """A text line OCR read: its box (inclusive), confidence (0-100), letters and digits."""

    box: Box
    confidence: float
    characters: int


@cache
def require_ocr() -> str:
    """``"rapidocr-onnxruntime X (onnxruntime Y)"``; one clear error when it cannot be imported."""
    try:
        import onnxruntime  # noqa: F401
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError as error:
        raise DynbusError(
            f"OCR asked for (deid.ocr: true) but {ENGINE} cannot be imported ({error}): install "
            "requirements.lock (make demo does), or set deid.ocr: false"
        ) from error
    return f"{ENGINE} {version(ENGINE)} (onnxruntime {version('onnxruntime')})"


@cache
def engine() -> Any:
    """The RapidOCR engine with :data:`SETTINGS` (loaded once per process)."""
    require_ocr()
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(**SETTINGS)


def read_words(image: np.ndarray) -> list[Word]:
    """The text lines OCR reads in ``image`` (8-bit gray), with their boxes."""
    rgb = np.repeat(np.ascontiguousarray(image, dtype=np.uint8)[..., None], 3, axis=-1)
    found, _ = engine()(rgb)
    words = []
    for corners, text, score in found or []:
        xs, ys = [round(x) for x, _ in corners], [round(y) for _, y in corners]
        characters = sum(char.isalnum() for char in text)
        words.append(Word((min(xs), min(ys), max(xs), max(ys)), 100 * float(score), characters))
    return words
