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
from functools import cache

import numpy as np
from PIL import Image

from dynbus.errors import DynbusError

Box = tuple[int, int, int, int]
TIMEOUT_S = 120


@cache
def tesseract_version() -> str | None:
    """``"tesseract X.Y.Z"`` when the ``tesseract`` command is on PATH, else None."""
    command = shutil.which("tesseract")
    if command is None:
        return None
    run = subprocess.run([command, "--version"], capture_output=True, text=True, check=False)
    lines = (run.stdout or run.stderr).splitlines()
    return lines[0].strip() if run.returncode == 0 and lines else None


def word_boxes(image: np.ndarray, min_confidence: float, min_characters: int) -> list[Box]:
    """Boxes ``(x0, y0, x1, y1)`` (inclusive) of the words Tesseract reads in ``image``.

    ``image`` is 8-bit gray, dark text on a light background. A word counts with Tesseract's
    confidence (0-100) and its count of letters and digits at least the given minimums.
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
    boxes = []
    for row in rows:
        text = row.get("text") or ""
        if row.get("level") != "5" or float(row.get("conf") or -1) < min_confidence:
            continue
        if sum(char.isalnum() for char in text) < min_characters:
            continue
        x, y, w, h = (int(row[name]) for name in ("left", "top", "width", "height"))
        boxes.append((x, y, x + w - 1, y + h - 1))
    return boxes
