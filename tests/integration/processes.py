"""Starting the portal's real processes (Celery worker and beat) for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


class Process:
    """A child process whose output goes to a log file the test can show on failure."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        """What the process printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to the process group (a prefork worker's children too)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        """TERM, then KILL if it does not exit in time."""
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()


def celery_worker(
    env: Mapping[str, str], log_dir: Path, name: str = "worker", concurrency: int = 4
) -> Process:
    """A real Celery worker for the portal's tasks."""
    return Process(
        name,
        [
            str(BIN / "celery"),
            "-A",
            "workers.celery_app:celery_app",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{name}@%h",
        ],
        env,
        log_dir,
    )


def celery_beat(env: Mapping[str, str], log_dir: Path) -> Process:
    """A real Celery beat running the sweeper."""
    return Process(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "workers.celery_app:celery_app",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(log_dir / "beat-schedule"),
        ],
        env,
        log_dir,
    )


@contextmanager
def running(*processes: Process) -> Iterator[tuple[Process, ...]]:
    """Stop the processes at the end, whatever happens."""
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll `check` until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()
