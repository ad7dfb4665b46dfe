"""Burned-in text inside the kept ultrasound area: a static-pixel cue, confirmed by OCR.

A cine's overlay (names, dates, labels, calipers, markers) stays put while the tissue under the
probe changes. Pixels that barely change over the loop (range <= 1/32 of full scale) and are
not dark (>= 1/5 of full scale) are overlay ink; ink closer than a letter gap forms candidate
areas. OCR reads all candidates at once (one mosaic, upscaled, once per sequence) and tells text
from other graphics. Every candidate is a static overlay, not tissue, so blank mode blanks them
all. When too many bright pixels are still (a frozen loop, a single frame) the static cue says
nothing: only OCR of the whole kept area can then find text, and without OCR the file counts as
not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from dynbus.deid.ocr import Box, Word, read_words, require_ocr

STILL_RANGE = 1 / 32  # of full scale: static ink is exact (lossless) or nearly (JPEG)
INK_LEVEL = 1 / 5  # of full scale: overlays are drawn bright on the dark screen
MAX_STILL_FRACTION = 0.5  # of the bright kept pixels; above it the loop is too still to tell
MIN_FRAMES = 3
MIN_STROKE = 3  # 8-connected ink pixels: a letter's stroke, not a still speckle
MIN_INK = 12  # pixels of ink in a candidate area
MIN_DENSITY = 0.15  # ink / pixels of the joined area: letters are dense, chance pixels sparse
LETTER_GAP = 4  # columns: ink closer than this joins into one area (letters into words)
PAD = 2  # pixels blanked around each area
OCR_SCALE = 3  # small scanner fonts (8-12 px) need upscaling
# OCR line filters (confidence 0-100, letters and digits; a Chinese name has 2-3 characters): on
# static ink a label reads as a short line; on tissue a line needs 3 characters at 70, or to
# share a line with such a line (docs/ocr.md: the engine reads no line on simulated tissue)
WORD_ON_INK = (50.0, 2)
WORD_ON_TISSUE = (70.0, 3)
WORD_ON_TEXT_LINE = (35.0, 2)
GAP = 12  # pixels between crops in the OCR mosaic
OCR_OFF = "not run: deid.ocr false"


@dataclass
class TextCheck:
    """What the burned-in text check found; boxes ``(x0, y0, x1, y1)`` inclusive, never text."""

    cue: str
    ocr: str
    checked: bool
    candidates: list[Box] = field(default_factory=list)
    text: list[Box] = field(default_factory=list)
    blank: list[Box] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary for the audit."""
        return {
            "cue": self.cue,
            "ocr": self.ocr,
            "checked": self.checked,
            "static_overlay_areas": len(self.candidates),
            "text_areas": [list(box) for box in self.text],
        }


def ocr_setting(settings: dict[str, object]) -> str:
    """What OCR the ``deid`` settings run: its version, or :data:`OCR_OFF`. An error when OCR
    is asked for (``ocr: true``, the default) and not installed: never a silent run without."""
    return require_ocr() if settings.get("ocr", True) else OCR_OFF


def check_burned_text(
    frames: np.ndarray, kept: np.ndarray, full_scale: int, invert: bool, use_ocr: bool
) -> TextCheck:
    """Find burned-in text and static overlays inside ``kept`` (bool rows x columns).

    ``frames`` is (T, rows, columns[, samples]) as stored; ``invert`` for MONOCHROME1 (white is
    the lowest value); ``use_ocr`` runs OCR (an error if it is not installed).
    """
    high, low = frames.max(axis=0).astype(np.int64), frames.min(axis=0).astype(np.int64)
    still_range, level = high - low, (high + low) // 2
    if still_range.ndim == 3:
        still_range, level = still_range.max(axis=-1), level.max(axis=-1)
    if invert:
        level = full_scale - level
    still = still_range <= round(STILL_RANGE * full_scale)
    bright = kept & (level >= INK_LEVEL * full_scale)
    image = np.clip(level * 255 // max(full_scale, 1), 0, 255).astype(np.uint8)
    version = require_ocr() if use_ocr else None
    ocr = version or OCR_OFF

    still_fraction = np.count_nonzero(still & bright) / max(np.count_nonzero(bright), 1)
    if len(frames) < MIN_FRAMES or still_fraction > MAX_STILL_FRACTION:
        cue = f"none: {len(frames)} frame(s), {still_fraction:.0%} of bright pixels still"
        if version is None:
            return TextCheck(cue=cue, ocr=ocr, checked=False)
        found = _join_lines(_read_words(np.where(kept, image, 0), [_all(kept)], WORD_ON_TISSUE))
        # OCR boxes clip letters: pad by a letter's width (about its height) and a third of it
        words = [_pad(box, kept.shape, box[3] - box[1] + 1, (box[3] - box[1]) // 3 + PAD)
                 for box in found]  # fmt: skip
        return TextCheck(cue=cue, ocr=version, checked=True, text=words, blank=words)

    candidates = ink_areas(still & bright)
    padded = [_pad(box, kept.shape) for box in candidates]
    check = TextCheck(cue=f"static pixels over {len(frames)} frames", ocr=ocr, checked=True,
                      candidates=candidates, blank=padded)  # fmt: skip
    if version is None or not candidates:
        check.text = list(check.blank)
        return check
    overlay = np.where(still & kept, image, 0)
    words = _read_words(overlay, candidates, WORD_ON_INK)
    check.text = [pad for box, pad in zip(candidates, padded, strict=True)
                  if any(_inside(word, box) for word in words)]  # fmt: skip
    return check


def ink_areas(ink: np.ndarray) -> list[Box]:
    """Boxes of text-like groups of ``ink`` pixels: strokes of a few pixels at least, joined
    across letter gaps into words, with enough ink in all and densely enough.

    Tissue that happens to hold still over a short loop gives scattered single pixels: they
    form no strokes, and what remains joins into sparse areas.
    """
    strokes, _ = ndimage.label(ink, structure=np.ones((3, 3), bool))
    sizes = np.bincount(strokes.ravel())
    sizes[0] = 0
    ink = (sizes >= MIN_STROKE)[strokes]
    grown = ndimage.binary_dilation(ink, structure=np.ones((3, 2 * LETTER_GAP + 1), bool))
    labels, _ = ndimage.label(grown)
    boxes = []
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        if found is None:
            continue
        pixels = np.count_nonzero(ink[found] & (labels[found] == index))
        if pixels < MIN_INK or pixels < MIN_DENSITY * np.count_nonzero(labels[found] == index):
            continue
        rows, columns = found
        boxes.append((columns.start, rows.start, columns.stop - 1, rows.stop - 1))
    return boxes


def _read_words(image: np.ndarray, areas: list[Box], word: tuple[float, int]) -> list[Box]:
    """Word boxes (in ``image`` coordinates) that OCR reads in ``areas``, read as one mosaic."""
    crops = [image[y0 : y1 + 1, x0 : x1 + 1] for x0, y0, x1, y1 in areas]
    width = max(crop.shape[1] for crop in crops) * OCR_SCALE + 2 * GAP
    height = sum(crop.shape[0] * OCR_SCALE + GAP for crop in crops) + GAP
    mosaic = np.full((height, width), 255, np.uint8)  # dark text on white, as on paper
    offsets = []
    top = GAP
    for crop in crops:
        h, w = crop.shape[0] * OCR_SCALE, crop.shape[1] * OCR_SCALE
        low, high = int(crop.min()), int(crop.max())
        stretched = ((crop.astype(np.int32) - low) * 255 // max(high - low, 1)).astype(np.uint8)
        big = np.asarray(Image.fromarray(stretched).resize((w, h), Image.Resampling.BICUBIC))
        mosaic[top : top + h, GAP : GAP + w] = 255 - big
        offsets.append(top)
        top += h + GAP
    words = []
    for x0, y0, x1, y1 in _text_words(read_words(mosaic), word):
        cy = (y0 + y1) // 2
        for (ax0, ay0, _, _), offset, crop in zip(areas, offsets, crops, strict=True):
            if offset <= cy < offset + crop.shape[0] * OCR_SCALE:
                to_image = [(x0 - GAP, y0 - offset), (x1 - GAP, y1 - offset)]
                (a, b), (c, d) = ((x // OCR_SCALE, y // OCR_SCALE) for x, y in to_image)
                words.append((ax0 + a, ay0 + b, ax0 + c, ay0 + d))
    return words


def _text_words(words: list[Word], sure: tuple[float, int]) -> list[Box]:
    """Boxes of the words that pass ``sure`` (confidence, characters), and of the weaker words
    on the same line as one of them (a name's other parts)."""

    def passes(word: Word, limits: tuple[float, int]) -> bool:
        return word.confidence >= limits[0] and word.characters >= limits[1]

    anchors = [word.box for word in words if passes(word, sure)]
    return [
        word.box
        for word in words
        if passes(word, sure)
        or (passes(word, WORD_ON_TEXT_LINE) and any(_same_line(word.box, box) for box in anchors))
    ]


def _join_lines(boxes: list[Box]) -> list[Box]:
    """Words on one line less than two heights apart joined into one box (OCR splits words)."""
    joined: list[Box] = []
    for box in sorted(boxes):
        last = joined[-1] if joined else None
        if last and _same_line(last, box) and box[0] - last[2] < 2 * (box[3] - box[1] + 1):
            joined[-1] = (last[0], min(last[1], box[1]), max(last[2], box[2]), max(last[3], box[3]))
        else:
            joined.append(box)
    return joined


def _same_line(a: Box, b: Box) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3] - a[1], b[3] - b[1])


def _all(mask: np.ndarray) -> Box:
    return (0, 0, mask.shape[1] - 1, mask.shape[0] - 1)


def _inside(word: Box, area: Box) -> bool:
    cx, cy = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
    return area[0] <= cx <= area[2] and area[1] <= cy <= area[3]


def _pad(box: Box, shape: tuple[int, int], pad_x: int = PAD, pad_y: int = PAD) -> Box:
    return (max(box[0] - pad_x, 0), max(box[1] - pad_y, 0),
            min(box[2] + pad_x, shape[1] - 1), min(box[3] + pad_y, shape[0] - 1))  # fmt: skip
