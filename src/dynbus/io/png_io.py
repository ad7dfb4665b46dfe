"""8-bit gray PNG files as the frame folders hold them: written without row filters, deflated by
ISA-L, and read back without Pillow (any other PNG is read through Pillow).

Its own module so that readers of frame folders (the duplicate check) do not import pydicom.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from isal import isal_zlib
from PIL import Image

PNG_COMPRESS_LEVEL = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_GRAY8 = b"\x08\x00\x00\x00\x00"  # IHDR: 8 bits, gray, deflate, filter method 0, no interlace


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(gray: np.ndarray) -> bytes:
    """8-bit gray PNG without row filters, deflated by ISA-L at level 1.

    Pillow always runs adaptive per-row filtering, which costs more than the decoding here and
    gains little on speckle. ISA-L's deflate (``isal``) writes a standard zlib stream about ten
    times faster than zlib level 1 at the same size on speckle, and releases the GIL, so frames
    encode in parallel threads.
    """
    rows, columns = gray.shape
    scanlines = np.zeros((rows, columns + 1), dtype=np.uint8)  # filter byte 0 = None
    scanlines[:, 1:] = gray
    header = struct.pack(">IIBBBBB", columns, rows, 8, 0, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", isal_zlib.compress(scanlines.tobytes(), PNG_COMPRESS_LEVEL)),
            _chunk(b"IEND", b""),
        )
    )


def read_png(path: Path) -> np.ndarray:
    """An 8-bit gray PNG as written by :func:`encode_png` (rows x columns uint8).

    Our own files (gray, no row filters) are inflated directly with ISA-L, several times faster
    than Pillow and without the GIL; any other PNG goes through Pillow.
    """
    data = path.read_bytes()
    if data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and data[24:29] == PNG_GRAY8:
        columns, rows = struct.unpack(">II", data[16:24])
        chunks, position = [], 8
        while position + 8 <= len(data):
            (length,) = struct.unpack(">I", data[position : position + 4])
            if data[position + 4 : position + 8] == b"IDAT":
                chunks.append(data[position + 8 : position + 8 + length])
            position += 12 + length
        lines = np.frombuffer(isal_zlib.decompress(b"".join(chunks)), dtype=np.uint8)
        if lines.size == rows * (columns + 1):
            lines = lines.reshape(rows, columns + 1)
            if not lines[:, 0].any():
                return lines[:, 1:]
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))
