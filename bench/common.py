"""What the benchmarks share: plans, result rows, databases, processes, load and memory.

Every process the benchmarks measure runs on its own (gunicorn, Celery, the fake Partner
Center, the load generator); this process only prepares data, starts and stops them, and reads
their figures. Everything is bounded: each wait has a timeout and each process is stopped at the
end, whatever happens.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration.processes import Process, wait_until  # noqa: E402,F401 (re-exported)
from tests.integration.redis_server import RedisServer, free_port  # noqa: E402

BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-key-" + "k" * 40  # noqa: S105 (a throwaway key for a local run)
USER_AGENT = "intake-bench"
# The same gunicorn settings for the portal and its baseline (the Procfile's web process).
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
PAGE = 50  # rows per list page, the portal's and the baseline's
# The processes started here may cache their bytecode (outside the work tree), even where the
# machine sets PYTHONDONTWRITEBYTECODE: start-up is not what is measured, and each process
# imports the whole stack, which takes seconds compiled from source.
CHILD_ENV = {
    "PYTHONDONTWRITEBYTECODE": "",
    "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "intake-bench-pycache"),
}


@dataclass(frozen=True)
class Plan:
    """How big and how long: `full` is `make bench`, `small` a quick look, `tiny` the smoke test."""

    name: str
    sizes: tuple[int, ...]
    duration: float  # seconds of each HTTP load run
    warmup: float
    runs: int  # runs of each HTTP load, app and baseline alternated; medians are reported
    concurrency: int  # load generator connections
    forward_records: int
    # Celery worker processes and threads in each, the portal's forwarder and the bare worker
    # alike: one process per core, as docs/OPERATIONS.md advises (a process's threads share
    # one interpreter lock).
    forward_processes: int
    forward_concurrency: int
    cap: int  # upstream requests per second in benchmark 3a
    cap_seconds: float  # how long 3a is measured
    sequential_records: int  # the sequential script's sample (its rate does not depend on it)
    upstream_latency_ms: int
    latency_samples: int  # approvals timed in benchmark 4
    import_rows: int
    deadline_seconds: float  # the whole run stops starting benchmarks after this

    @property
    def forward_threads(self) -> int:
        """Celery threads of all the forwarder's processes together."""
        return self.forward_processes * self.forward_concurrency

    @property
    def forward_layout(self) -> str:
        """The forwarder's processes and threads, in words."""
        return f"{self.forward_processes} process(es) x {self.forward_concurrency} threads"


PLANS = {
    "full": Plan(
        name="full",
        sizes=(10_000, 100_000),
        duration=10,
        warmup=3,
        runs=3,
        concurrency=16,
        forward_records=2000,
        forward_processes=2,
        forward_concurrency=16,
        cap=20,
        cap_seconds=60,
        sequential_records=100,
        upstream_latency_ms=200,
        latency_samples=30,
        import_rows=10_000,
        deadline_seconds=3600,
    ),
    "small": Plan(
        name="small",
        sizes=(2_000, 10_000),
        duration=4,
        warmup=2,
        runs=1,
        concurrency=16,
        forward_records=300,
        forward_processes=2,
        forward_concurrency=16,
        cap=20,
        cap_seconds=10,
        sequential_records=20,
        upstream_latency_ms=200,
        latency_samples=8,
        import_rows=2_000,
        deadline_seconds=1200,
    ),
    "tiny": Plan(
        name="tiny",
        sizes=(300,),
        duration=1,
        warmup=1.5,
        runs=1,
        concurrency=4,
        forward_records=30,
        forward_processes=1,
        forward_concurrency=8,
        cap=20,
        cap_seconds=2,
        sequential_records=4,
        upstream_latency_ms=50,
        latency_samples=2,
        import_rows=50,
        deadline_seconds=170,
    ),
}


@dataclass
class Row:
    """One line of the results table: the figure, its baseline, the ratio and the target."""

    bench: str
    what: str
    figure: float | None
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    size: int | None = None
    note: str = ""

    def cells(self) -> list[str]:
        """The Markdown cells of this row."""
        verdict = {True: "met", False: "**missed**", None: "-"}[self.met]
        baseline = "-"
        if self.baseline is not None:
            baseline = f"{_num(self.baseline)} {self.unit}"
            if self.baseline_what:
                baseline += f" ({self.baseline_what})"
        figure = "n/a" if self.figure is None else f"{_num(self.figure)} {self.unit}"
        return [
            self.bench,
            f"{self.size:,}" if self.size else "-",
            self.what,
            figure,
            baseline,
            "-" if self.ratio is None else f"{self.ratio:.2f}",
            self.target or "-",
            verdict,
            self.note,
        ]

    def as_dict(self) -> dict[str, Any]:
        """For the JSON log of a run."""
        return dict(self.__dict__)


HEADER = ["bench", "records", "what", "figure", "baseline", "ratio", "target", "verdict", "note"]


def _num(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """Rows as a Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


_STARTED = time.monotonic()


def progress(message: str) -> None:
    """A line on stderr with the seconds since the run started (where the time goes)."""
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def emit(rows: list[Row]) -> list[Row]:
    """Print rows as they come (each benchmark prints its own figures) and return them."""
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |", flush=True)
    return rows


def ratio_row(
    bench: str,
    what: str,
    figure: float,
    baseline: float,
    unit: str,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    baseline_what: str = "",
    size: int | None = None,
    note: str = "",
) -> Row:
    """A row judged on figure / baseline against a bound."""
    ratio = figure / baseline if baseline else None
    met: bool | None = None
    target = ""
    if at_least is not None:
        target = f">= {at_least:g}x baseline"
        met = ratio is not None and ratio >= at_least
    if at_most is not None:
        target = f"<= {at_most:g}x baseline"
        met = ratio is not None and ratio <= at_most
    return Row(
        bench,
        what,
        figure,
        unit,
        baseline,
        baseline_what,
        ratio,
        target,
        met,
        size,
        note,
    )


# -- the run's environment ------------------------------------------------------------------------


@dataclass
class Env:
    """What one bench run owns: a work folder, a private Redis, the PostgreSQL server."""

    plan: Plan
    work_dir: Path
    postgres_server: str
    redis: RedisServer
    started: float = field(default_factory=time.monotonic)
    databases: list[str] = field(default_factory=list)
    profile_dir: Path | None = None  # --profile: py-spy records the measured processes here

    def redis_url(self, db: int = 0) -> str:
        """A database of the private Redis server."""
        return f"redis://127.0.0.1:{self.redis.port}/{db}"

    def time_left(self) -> float:
        """Seconds until the plan's deadline."""
        return self.plan.deadline_seconds - (time.monotonic() - self.started)


@contextmanager
def profiling(env: Env, name: str, pids: list[int]) -> Iterator[None]:
    """With --profile, record each process with py-spy (collapsed stacks) while the body runs."""
    spy = BIN / "py-spy"
    if env.profile_dir is None or not spy.exists():
        yield
        return
    env.profile_dir.mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--rate",
                "50",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(env.profile_dir / f"{name}-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]
    try:
        yield
    finally:
        for process in spies:
            process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl+C
        for process in spies:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def bench_env(plan: Plan, work_dir: Path | None = None) -> Iterator[Env]:
    """A work folder and a private Redis; drops the run's databases at the end."""
    os.chdir(ROOT)
    # Before the portal's create_app, which logs at INFO when no handler is set.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = os.environ.get(
        "BENCH_POSTGRES_URL",
        os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    folder = work_dir or Path(tempfile.mkdtemp(prefix="intake-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(folder).start()
    env = Env(plan=plan, work_dir=folder, postgres_server=server, redis=redis)
    try:
        yield env
    finally:
        redis.stop()
        for name in env.databases:
            drop_database(server, name)


def _admin(server: str) -> sa.Engine:
    from app.db import make_engine

    return make_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_database(env: Env, label: str) -> str:
    """A new, migrated and seeded PostgreSQL database of this run; its URL."""
    from tests.support import migrate_and_seed

    name = f"intake_bench_{os.getpid()}_{label}_{uuid.uuid4().hex[:6]}"
    admin = _admin(env.postgres_server)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    env.databases.append(name)
    url = sa.make_url(env.postgres_server).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    migrate_and_seed(rendered)
    progress(f"database {name} migrated and seeded")
    return rendered


def drop_database(server: str, name: str) -> None:
    """Drop a database of this run (FORCE: a killed process may have left a connection)."""
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def app_env(database_url: str, broker_url: str, upstream_url: str, **extra: str) -> dict[str, str]:
    """The environment of the portal's processes (production mode, the legacy flow)."""
    env = {
        "INTAKE_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "PARTNER_CENTER_URL": upstream_url,
        "PARTNER_CENTER_FLOW": "legacy",
        "PARTNER_CENTER_AUTH": "static",
        "UPSTREAM_MAX_REQUESTS_PER_SECOND": "0",
        "FORWARD_SWEEP_SECONDS": "3600",
        "BROKER_PUBLISH_TIMEOUT_SECONDS": "1",
    }
    if broker_url.startswith("redis://"):
        env["REDIS_URL"] = broker_url
    env.update(extra)
    return env


# -- processes ------------------------------------------------------------------------------------


def wait_http(port: int, path: str, process: Process, timeout: float = 90) -> None:
    """Wait until the server answers `path` (any status), or fail with its log."""

    def answers() -> bool:
        if process.popen.poll() is not None:
            return True
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: {USER_AGENT}"
                sock.sendall(f"{request}\r\n\r\n".encode())
                return sock.recv(12).startswith(b"HTTP/")
        except OSError:
            return False

    if not wait_until(answers, timeout=timeout, interval=0.1) or process.popen.poll() is not None:
        raise RuntimeError(f"{process.name} did not start:\n{process.log()[-3000:]}")


def start_gunicorn(name: str, target: str, env: dict[str, str], log_dir: Path) -> Server:
    """Start gunicorn with the portal's settings (2 workers x 4 threads); not yet ready."""
    port = free_port()
    process = Process(
        name,
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
            "--threads",
            str(GUNICORN_THREADS),
            "--log-level",
            "warning",
            target,
        ],
        {**CHILD_ENV, **env},
        log_dir,
    )
    return Server(process, port)


def upstream(
    log_dir: Path, latency_ms: int, limit: int | None = None, name: str = "upstream"
) -> Server:
    """The fake Partner Center (bench/upstream.py) with its latency and optional limit."""
    port = free_port()
    args = [sys.executable, "-m", "bench.upstream", "--port", str(port)]
    args += ["--latency-ms", str(latency_ms)]
    if limit is not None:
        args += ["--limit", str(limit)]
    process = Process(name, args, CHILD_ENV, log_dir)
    server = Server(process, port)
    try:
        wait_http(port, "/_bench/stats", process, timeout=60)
    except BaseException:
        process.stop()
        raise
    return server


def celery_worker(
    name: str, target: str, env: dict[str, str], log_dir: Path, concurrency: int
) -> Process:
    """A Celery worker (threads pool, as the Procfile runs the forwarder), ready for tasks."""
    process = Process(
        name,
        [
            str(BIN / "celery"),
            "-A",
            target,
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
            f"{name}-{os.getpid()}@%h",
        ],
        {**CHILD_ENV, **env},
        log_dir,
    )
    ready = wait_until(
        lambda: " ready." in process.log() or process.popen.poll() is not None, timeout=90
    )
    if not ready or process.popen.poll() is not None:
        log = process.log()
        process.stop()
        raise RuntimeError(f"{name} did not start:\n{log[-3000:]}")
    return process


def celery_workers(
    name: str, target: str, env: dict[str, str], log_dir: Path, processes: int, concurrency: int
) -> list[Process]:
    """`processes` Celery workers of `concurrency` threads each, on one queue, all ready."""
    workers: list[Process] = []
    try:
        for n in range(processes):
            workers.append(
                celery_worker(name if n == 0 else f"{name}-{n}", target, env, log_dir, concurrency)
            )
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


@dataclass
class Server:
    """A started HTTP server process and its port."""

    process: Process
    port: int

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def get_json(self, path: str, timeout: float = 10) -> Any:
        """GET a JSON document."""
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read())

    def post(self, path: str, body: Any = None, timeout: float = 10) -> None:
        """POST `body` as JSON (or nothing)."""
        data = b"" if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (a local URL of ours)
            self.url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
            pass

    def worker_pids(self) -> list[int]:
        """The pids of the master's children (gunicorn's workers)."""
        return children(self.process.popen.pid)

    def stop(self) -> None:
        """Stop the process (TERM, then KILL)."""
        self.process.stop()


@contextmanager
def stopping(*things: Server | Process) -> Iterator[None]:
    """Stop servers and processes at the end, whatever happens."""
    try:
        yield
    finally:
        for thing in things:
            thing.stop()


# -- memory ---------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Direct children of a process, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


def rss_mib(pid: int) -> float | None:
    """Resident set size of a process in MiB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class PeakRss:
    """Samples the resident size of some processes every half second; keeps the peak."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="peak-rss")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.5)

    def sample(self) -> float:
        """Take one sample now; the largest process's RSS."""
        sizes = [s for s in (rss_mib(pid) for pid in self._pids()) if s is not None]
        now = max(sizes, default=0.0)
        self.peak = max(self.peak, now)
        return now

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()


# -- load -----------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """The load generator's summary of one run."""

    ok: int
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    errors: dict[str, int]

    @property
    def failures(self) -> int:
        """Requests that failed or got an unexpected status."""
        return sum(self.errors.values()) + sum(self.statuses.values()) - self.ok


def load(
    port: int,
    paths: list[str],
    *,
    plan: Plan,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    expect: tuple[int, ...] = (200,),
    duration: float | None = None,
    warmup: float = 0.5,
) -> LoadResult:
    """One run of the load generator (bench/load.py) in a process of its own."""
    seconds = duration or plan.duration
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "method": method,
        "paths": paths,
        "body": body,
        "headers": {"User-Agent": USER_AGENT, **(headers or {})},
        "concurrency": plan.concurrency,
        "duration": seconds,
        "warmup": warmup,
        "expect": list(expect),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=seconds + warmup + 120,
        check=False,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{completed.stderr[-3000:]}")
    data = json.loads(completed.stdout)
    return LoadResult(
        ok=data["ok"],
        rps=data["rps"],
        p50_ms=data["p50_ms"],
        p99_ms=data["p99_ms"],
        statuses=data["statuses"],
        errors=data["errors"],
    )


@dataclass
class Compared:
    """Medians of alternated runs against the portal and against its baseline."""

    app: LoadResult
    base: LoadResult
    app_runs: list[float]
    base_runs: list[float]


def compare(
    plan: Plan,
    run_app: Callable[..., LoadResult],
    run_base: Callable[..., LoadResult],
) -> Compared:
    """Alternate app and baseline runs (so drifting noise hits both); keep the median runs.

    Each run has half a second of warm-up, not counted; before the first, one untimed run of
    each (`plan.warmup` seconds) lets every worker import, compile and connect.
    """
    apps: list[LoadResult] = []
    bases: list[LoadResult] = []
    # One untimed run of each first: a worker's first requests import, compile and connect.
    run_app(warmup=0.0, duration=plan.warmup)
    run_base(warmup=0.0, duration=plan.warmup)
    for _ in range(plan.runs):
        apps.append(run_app())
        bases.append(run_base())
    for label, results in (("portal", apps), ("baseline", bases)):
        bad = sum(r.failures for r in results)
        if bad > 0.01 * sum(r.ok for r in results) or not all(r.ok for r in results):
            raise RuntimeError(f"{label}: {bad} failed requests {[r.statuses for r in results]}")
    return Compared(
        app=_median(apps),
        base=_median(bases),
        app_runs=[r.rps for r in apps],
        base_runs=[r.rps for r in bases],
    )


def _median(results: list[LoadResult]) -> LoadResult:
    middle = sorted(results, key=lambda r: r.rps)[len(results) // 2]
    return replace(middle, p99_ms=statistics.median(r.p99_ms for r in results))


def runs_note(compared: Compared) -> str:
    """The spread of the runs, when there was more than one."""
    if len(compared.app_runs) < 2:
        return ""
    a = ", ".join(f"{x:.0f}" for x in compared.app_runs)
    b = ", ".join(f"{x:.0f}" for x in compared.base_runs)
    return f"runs: {a} vs {b} req/s"


# -- the machine ----------------------------------------------------------------------------------


def machine(postgres_server: str, redis_url: str, speed: bool = True) -> dict[str, str]:
    """What the figures were measured on (`speed`: with the Python speed check, ~2 s)."""
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if speed:
        info["python speed check"] = _speed()
    try:
        admin = _admin(postgres_server)
        with admin.connect() as conn:
            info["postgresql"] = str(conn.execute(sa.text("SHOW server_version")).scalar())
        admin.dispose()
    except sa.exc.SQLAlchemyError as exc:
        info["postgresql"] = f"unreachable ({type(exc).__name__})"
    try:
        import redis

        client = redis.Redis.from_url(redis_url)
        info["redis"] = str(client.info("server").get("redis_version"))
        client.close()
    except Exception as exc:  # a figure for the report, never a reason to stop
        info["redis"] = f"unreachable ({type(exc).__name__})"
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _speed() -> str:
    """BASELINES.md's check: `sum(i*i for i in range(10**7))`, median of 3 (0.65 s there)."""
    times = []
    for _ in range(3):
        began = time.perf_counter()
        sum(i * i for i in range(10**7))
        times.append(time.perf_counter() - began)
    return f"{statistics.median(times):.2f} s (BASELINES.md machine: 0.65 s)"
