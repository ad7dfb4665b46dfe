"""Find words in an image with the Tesseract OCR command (Debian package ``tesseract-ocr``).

Only word boxes leave this module, never the words: the de-identification audit must not hold
the burned-in text it found.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from dynbus.errors import DynbusError

Box = tuple[int, int, int, int]
TIMEOUT_S = 120


@dataclass(frozen=True)
class Word:
    """A word Tesseract read: its box (inclusive), confidence (0-100), letters and digits."""

    box: Box
    confidence: float
    characters: int


@cache
def tesseract_version() -> str | None:
    """``"tesseract X.Y.Z"`` when the ``tesseract`` command is on PATH, else None."""
    command = shutil.which("tesseract")
    if command is None:
        return None
    run = subprocess.run([command, "--version"], capture_output=True, text=True, check=False)
    lines = (run.stdout or run.stderr).splitlines()
    return lines[0].strip() if run.returncode == 0 and lines else None


def read_words(image: np.ndarray) -> list[Word]:
    """The words Tesseract reads in ``image`` (8-bit gray, dark text on a light background).

    Sparse-text page segmentation (``--psm 11``) finds words anywhere; one thread, so parallel
    jobs do not oversubscribe the machine.
    """
    command = shutil.which("tesseract")
    if command is None:
        raise DynbusError("OCR asked for (deid.ocr: true) but the tesseract command is missing")
    png = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(png, format="PNG")
    run = subprocess.run(
        [command, "stdin", "stdout", "--psm", "11", "-l", "eng", "tsv"],
        input=png.getvalue(),
        capture_output=True,
        check=False,
        timeout=TIMEOUT_S,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    if run.returncode != 0:
        raise DynbusError(f"tesseract failed: {run.stderr.decode(errors='replace').strip()}")
    rows = csv.DictReader(io.StringIO(run.stdout.decode(errors="replace")), delimiter="\t",
                          quoting=csv.QUOTE_NONE)  # fmt: skip
    words = []
    for row in rows:
        if row.get("level") != "5":
            continue
        x, y, w, h = (int(row[name]) for name in ("left", "top", "width", "height"))
        characters = sum(char.isalnum() for char in row.get("text") or "")
        words.append(Word((x, y, x + w - 1, y + h - 1), float(row.get("conf") or -1), characters))
    return words
