"""A citizen's photo, made safe to keep and show.

Its kind is told by its content, its size and pixels are bounded, it is turned upright and
re-encoded as a plain JPEG without its metadata: EXIF, and with it the GPS position the phone
wrote, is not carried over.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from geo.errors import InvalidInputError, TooLargeError, UnsupportedFileError

#: The kinds of photo taken, by Pillow's reading of their content (not their name).
KINDS = frozenset({"JPEG", "PNG", "WEBP"})
#: Above this many pixels a file is refused before it is decoded (a "decompression bomb").
PIXELS_MAX = 40_000_000
#: The longest side kept: a phone's photo is scaled down to it.
SIDE_MAX = 2048
QUALITY = 85


@dataclass(frozen=True)
class Photo:
    """A cleaned photo: JPEG bytes, and its size in pixels."""

    data: bytes
    width: int
    height: int


def clean(data: bytes, max_bytes: int) -> Photo:
    """The photo ``data`` re-encoded for keeping.

    Raises
    ------
    TooLargeError
        Above ``max_bytes``, or ``PIXELS_MAX`` pixels.
    UnsupportedFileError
        If it is not a JPEG, PNG or WebP image by its content.
    InvalidInputError
        If it is one but cannot be decoded (truncated, corrupt).
    """
    if len(data) > max_bytes:
        raise TooLargeError(f"photo: {len(data):,} bytes, more than {max_bytes:,}")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnsupportedFileError("photo: not a JPEG, PNG or WebP image") from None
    except OSError as exc:
        raise InvalidInputError(f"photo: the image cannot be read ({exc})") from None
    with image:
        if image.format not in KINDS:
            raise UnsupportedFileError(f"photo: a {image.format} file, not a JPEG, PNG or WebP")
        width, height = image.size
        if width * height > PIXELS_MAX:
            raise TooLargeError(f"photo: {width} × {height} pixels, more than {PIXELS_MAX:,}")
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidInputError(f"photo: the image cannot be read ({exc})") from None
        plain = upright.convert("RGB")
        plain.thumbnail((SIDE_MAX, SIDE_MAX))
        out = io.BytesIO()
        # No exif=, icc_profile= or comment: nothing of the original's metadata is written.
        plain.save(out, format="JPEG", quality=QUALITY, optimize=True)
    return Photo(out.getvalue(), plain.width, plain.height)
