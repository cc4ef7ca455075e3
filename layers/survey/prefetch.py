"""An iterator's items made ahead, in a thread of their own.

The importer prepares batch k+1 there while it stores batch k.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from queue import Empty, Full, Queue
from typing import Generic, TypeVar

T = TypeVar("T")


class _Done:
    """The mark after the last item."""


_DONE = _Done()


class Prefetch(Generic[T]):
    """The items of ``items``, made in a thread named ``name``; at most two wait to be taken.

    A context: entering starts the thread, :meth:`take` hands the items over in order (and
    raises what making one raised), leaving stops the thread and waits for it.
    """

    def __init__(self, items: Iterator[T], name: str) -> None:
        self.queue: Queue[T | BaseException | _Done] = Queue(maxsize=2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, args=(items,), name=name, daemon=True)

    def __enter__(self) -> Prefetch[T]:
        self.thread.start()
        return self

    def _offer(self, item: T | BaseException | _Done) -> bool:
        """Hand an item over unless the taking side has stopped (then drop it)."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except Full:
                continue
        return False

    def _produce(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._offer(item):
                    return
            self._offer(_DONE)
        except BaseException as exc:  # handed to the taking thread, which raises it
            self._offer(exc)

    def take(self) -> T | None:
        """The next item, None when there are no more."""
        item = self.queue.get()
        if isinstance(item, _Done):
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.stop.set()
        while self.thread.is_alive():
            with contextlib.suppress(Empty):
                self.queue.get(timeout=0.1)
        self.thread.join()
