"""Posting a message to an office's webhook: the one place the platform makes HTTP requests.

The outbox (``layers.cases.delivery``) decides what to send and when; this sends it.
"""

from __future__ import annotations

from types import TracebackType

import httpx


class Poster:
    """POST JSON bodies with one connection pool; ``send`` answers None or why it failed."""

    def __init__(self, timeout_s: float) -> None:
        self._client = httpx.Client(timeout=timeout_s)

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """Send one body; None when the receiver took it (2xx), else why not."""
        try:
            answer = self._client.post(url, content=body, headers=headers)
        except Exception as exc:  # a bad URL too is a failed attempt, not a crash
            return f"{type(exc).__name__}: {exc}"[:500]
        return None if answer.is_success else f"HTTP {answer.status_code}"

    def __enter__(self) -> Poster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._client.close()
