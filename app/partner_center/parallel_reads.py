"""Upstream reads run in threads of their own, so that a caller can overlap them with a read it
makes itself: the gateway's ask step sends the direct-acceptance read beside the agreements read
(one round trip instead of two). The threads start on first use and stop on `close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Threads that run the direct-acceptance read beside the agreements read (the gateway's ask
# step); created only when needed, so a worker with n threads ends up with at most n of them.
ASK_THREADS = 64


class ParallelReads:
    """A pool of reader threads, created on the first read and shut down by `close`."""

    def __init__(self) -> None:
        self._reader: ThreadPoolExecutor | None = None
        self._reader_lock = threading.Lock()

    def start(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Callable[[], T]:
        """Start `read(*args, **kwargs)` in a reader thread now; the call returned waits for its
        answer (or raises its error)."""
        answer: Future[T] = self._reads().submit(read, *args, **kwargs)
        return answer.result

    def close(self) -> None:
        """Stop the reader threads (after the reads under way); a later read starts new ones."""
        with self._reader_lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.shutdown(wait=True)

    def _reads(self) -> ThreadPoolExecutor:
        with self._reader_lock:
            if self._reader is None:
                self._reader = ThreadPoolExecutor(ASK_THREADS, thread_name_prefix="pc-read")
            return self._reader
