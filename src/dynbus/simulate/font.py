"""Text drawing for the scanner's screen: Pillow's default font, CJK from a font in a wheel.

Pillow's built-in font has Latin glyphs only; Chinese names are set in WenQuanYi Micro Hei,
which the ``paperang-p2-fonts-cjk`` wheel ships (locked like every dependency, so the pixels
are the same on every install). Latin-only text is drawn exactly as before, in one run.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib.resources import files

from PIL import ImageDraw, ImageFont

CJK_FONT = files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"


@cache
def latin_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels."""
    return ImageFont.load_default(size=size)


@cache
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """WenQuanYi Micro Hei at ``size`` pixels."""
    with CJK_FONT.open("rb") as handle:
        return ImageFont.truetype(handle, size)


def is_wide(char: str) -> bool:
    """Whether ``char`` is a wide (CJK) character, drawn with :func:`cjk_font`."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int,
              fill: int) -> None:  # fmt: skip
    """Draw ``text`` at ``xy``: runs of wide characters in the CJK font, the rest in Latin."""
    x, y = xy
    start = 0
    for end in range(1, len(text) + 1):
        if end < len(text) and is_wide(text[end]) == is_wide(text[start]):
            continue
        run = text[start:end]
        font = cjk_font(size) if is_wide(run[0]) else latin_font(size)
        draw.text((x, y), run, fill=fill, font=font)
        x += round(draw.textlength(run, font=font))
        start = end
