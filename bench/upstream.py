"""The fake Partner Center for the benchmarks, with a clock and an optional rate limit.

`python -m bench.upstream --port P --latency-ms 200 [--limit 20]` serves the project's fake
(`app.partner_center.fake`, the app `intake fake-partner-center` runs) in the same threaded
server, wrapped so that:

- every `/v1/` request's arrival time is kept (`GET /_bench/stats` returns them, with counts
  by method and the 429s sent), so the bench measures the rate Partner Center would see;
- with `--limit N`, a request that would make more than N + 1 requests in any one-second
  window is refused with 429 and `Retry-After: 1`, as a throttling Partner Center would
  (+1: a client paced at exactly N a second puts N + 1 requests in a closed one-second window).

`POST /_bench/reset` clears the clock and the counters.
"""

from __future__ import annotations

import argparse
import collections
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import make_server

from app.partner_center.fake import QuietRequestHandler, create_fake_app
from app.partner_center.fake_store import FakeStore

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Clocked:
    """WSGI middleware: arrival times of /v1 requests, and the optional window limit."""

    def __init__(self, app: WsgiApp, limit: int | None) -> None:
        self.app = app
        self.limit = limit
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.methods: collections.Counter[str] = collections.Counter()
        self.window: collections.deque[float] = collections.deque()
        self.throttled = 0

    def reset(self) -> None:
        """Forget everything seen so far."""
        with self.lock:
            self.times.clear()
            self.methods.clear()
            self.window.clear()
            self.throttled = 0

    def stats(self) -> dict[str, Any]:
        """Arrival times (time.time()), counts by method, and 429s sent."""
        with self.lock:
            return {
                "times": list(self.times),
                "methods": dict(self.methods),
                "throttled": self.throttled,
            }

    def _admit(self) -> bool:
        now = time.monotonic()
        with self.lock:
            if self.limit is not None:
                while self.window and self.window[0] <= now - 1.0:
                    self.window.popleft()
                if len(self.window) >= self.limit + 1:
                    self.throttled += 1
                    return False
                self.window.append(now)
            self.times.append(time.time())
            return True

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_bench/stats":
            return _json(start_response, self.stats())
        if path == "/_bench/reset" and environ.get("REQUEST_METHOD") == "POST":
            self.reset()
            return _json(start_response, {"reset": True})
        if path.startswith("/v1/"):
            if not self._admit():
                body = json.dumps({"statusCode": 429, "message": "Rate limit is exceeded."})
                start_response(
                    "429 Too Many Requests",
                    [("Content-Type", "application/json"), ("Retry-After", "1")],
                )
                return [body.encode()]
            with self.lock:
                self.methods[environ.get("REQUEST_METHOD", "?")] += 1
        return self.app(environ, start_response)


def _json(start_response: StartResponse, body: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    store = FakeStore()
    store.set_faults({"latencyMs": args.latency_ms})
    app = Clocked(create_fake_app(store), args.limit)
    server = make_server(
        "127.0.0.1", args.port, app, threaded=True, request_handler=QuietRequestHandler
    )
    print(f"upstream on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
