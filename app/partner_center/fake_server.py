"""Run the fake Partner Center in a background thread, for tests and local tools.

`FakeServer().start()` listens on 127.0.0.1 (a free port by default) with werkzeug's threaded
server; `stop()` wakes any injected hang, shuts the server down and joins the thread, so no
socket or thread outlives it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from app.partner_center.fake import QuietRequestHandler, create_fake_app
from app.partner_center.fake_store import FakeStore


class FakeServer:
    """The fake Partner Center served from a daemon thread; also a context manager."""

    def __init__(
        self,
        store: FakeStore | None = None,
        *,
        faults: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        quiet: bool = True,
    ) -> None:
        self.store = store if store is not None else FakeStore()
        if faults:
            self.store.set_faults(faults)
        self.host = host
        self._quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (only once started)."""
        if self._server is None:
            raise RuntimeError("the fake Partner Center is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL to give the client, e.g. http://127.0.0.1:54321."""
        return f"http://{self.host}:{self.port}"

    def start(self, port: int = 0) -> FakeServer:
        """Start listening (port 0 picks a free one) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the fake Partner Center is already running")
        self.store.rearm_sleepers()
        handler = QuietRequestHandler if self._quiet else None
        server = make_server(
            self.host, port, create_fake_app(self.store), threaded=True, request_handler=handler
        )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-partner-center-{server.server_port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self.store.wake_sleepers()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
