"""A private Redis server for fault tests: killed, flushed and restarted at will."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """`redis-server` on its own port, without persistence, as Celery's own tests run it."""

    def __init__(self, work_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.work_dir = work_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.flushes = 0

    @property
    def url(self) -> str:
        """The broker URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start and wait until it answers."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        log = (self.work_dir / "redis.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (a fixed local binary)
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.work_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as client:
                    client.ping()
                return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: every queued and unacknowledged message is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        """Kill and start again on the same port, empty."""
        self.kill()
        self.start()
        self.restarts += 1

    def flush(self) -> None:
        """FLUSHALL: the queue, the unacked messages and kombu's bindings vanish."""
        with redis.Redis(port=self.port, socket_connect_timeout=1) as client:
            client.flushall()
        self.flushes += 1

    def stop(self) -> None:
        """Stop for good."""
        self.kill()
