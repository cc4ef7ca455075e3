"""A citizen's photo is kept only as a fresh JPEG: no EXIF (so no GPS position), upright,
bounded in bytes, pixels and side; anything that is not a photo by its content is refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from geo.errors import InvalidInputError, TooLargeError, UnsupportedFileError
from geo.photos import SIDE_MAX, clean

GPS = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def phone_photo(width: int = 400, height: int = 300, fmt: str = "JPEG") -> bytes:
    """A photo as a phone writes it: its maker, its GPS position, and "turn 90° to view"."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 4, height))  # a blue band on the left
    exif = Image.Exif()
    exif[MAKE] = "SyntheticPhone"
    exif[ORIENTATION] = 6  # the camera was turned: rotate 90° clockwise to view
    exif[GPS] = {1: "N", 2: (15.0, 13.0, 44.0), 3: "E", 4: (104.0, 51.0, 33.0)}
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif)
    return out.getvalue()


def test_the_kept_photo_has_no_metadata_and_stands_upright() -> None:
    original = phone_photo()
    with Image.open(io.BytesIO(original)) as source:
        assert source.getexif().get_ifd(GPS)  # the phone wrote where it was
    kept = clean(original, 8 * 1024 * 1024)
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.format == "JPEG"
        assert len(image.getexif()) == 0 and "exif" not in image.info
        assert image.size == (300, 400) == (kept.width, kept.height)  # turned upright
        # The blue band was on the left; turned clockwise it is on the top.
        top = image.getpixel((150, 20))
        assert isinstance(top, tuple) and top[2] > 150 and top[0] < 100
    assert b"SyntheticPhone" not in kept.data


def test_a_large_photo_is_scaled_down_and_a_png_becomes_a_jpeg() -> None:
    kept = clean(phone_photo(4000, 3000, "PNG"), 64 * 1024 * 1024)
    assert max(kept.width, kept.height) == SIDE_MAX
    assert kept.data[:3] == b"\xff\xd8\xff"


def test_what_is_not_a_photo_is_refused() -> None:
    with pytest.raises(UnsupportedFileError):
        clean(b"<html><script>alert(1)</script></html>", 1024)
    gif = io.BytesIO()
    Image.new("P", (4, 4)).save(gif, format="GIF")
    with pytest.raises(UnsupportedFileError, match="GIF"):
        clean(gif.getvalue(), 1024 * 1024)
    with pytest.raises(TooLargeError, match="bytes"):
        clean(phone_photo(), 100)
    bomb = io.BytesIO()
    Image.new("1", (8000, 6000)).save(bomb, format="PNG")  # 48 million pixels, a small file
    with pytest.raises(TooLargeError, match="pixels"):
        clean(bomb.getvalue(), 64 * 1024 * 1024)
    with pytest.raises(InvalidInputError, match="cannot be read"):
        clean(phone_photo()[:400], 1024 * 1024)  # cut off
