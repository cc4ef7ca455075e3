"""What may be attached to a case: the kinds of file, told by their first bytes, not their name."""

from __future__ import annotations

#: Media type of each kind of file a case takes, by the bytes it starts with.
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


def media_type(head: bytes) -> str | None:
    """The media type of a file that starts with ``head``; None for a kind cases do not take."""
    return next((kind for start, kind in SIGNATURES.items() if head.startswith(start)), None)
