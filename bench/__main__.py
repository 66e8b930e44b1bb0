"""`python -m bench`: run the benchmarks and write docs/PERFORMANCE.md between its markers.

    python -m bench                       # the full plan (`make bench`)
    python -m bench --plan small          # a quick look; --only intake,queue to pick some
    python -m bench --plan tiny --no-report   # what the smoke test runs

Per size (10,000 and 100,000 records in the full plan): a database of that size and the shared
processes (bench/stack.py), then 2 (review queue), 1 (intake), 6 (the web workers' memory) and
3 (forwarding, with the forwarder's memory); at the last size also 4 on Redis and 5 (bulk
import); at the end 4 on the embedded broker. Each benchmark prints its rows as it goes, and
progress lines with the elapsed time go to stderr. A benchmark that fails is reported as a row
and the others still run; the exit status is 1 if any failed (a missed target is a finding, not
a failure).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from bench.common import (
    HEADER,
    PLANS,
    ROOT,
    Env,
    PeakRss,
    Row,
    bench_env,
    emit,
    machine,
    profiling,
    progress,
    table,
)
from bench.data import prepare
from bench.stack import Stack, size_stack, web_memory_row

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
CHOICES = ("queue", "intake", "forwarding", "latency", "import")


def _guarded(name: str, failures: list[str], step: Callable[[], list[Row]]) -> list[Row]:
    """Run one benchmark; a crash becomes a row (and a failure), not the end of the run."""
    progress(f"{name}: start")
    try:
        return step()
    except Exception as exc:
        traceback.print_exc()
        failures.append(name)
        message = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return emit(
            [Row(name, "did not complete", None, "", note=f"{type(exc).__name__}: {message}")]
        )


def _skipped(env: Env, name: str) -> list[Row] | None:
    if env.time_left() > 0:
        return None
    return emit([Row(name, "skipped", None, "", note="the run's time limit was reached")])


def _web_benchmarks(stack: Stack, only: set[str], failures: list[str]) -> list[Row]:
    """Benchmarks 2 and 1 against the size's web servers, then the web workers' memory."""
    from bench import intake, review_queue

    rows: list[Row] = []
    with PeakRss(stack.web.worker_pids) as app_rss, PeakRss(stack.base.worker_pids) as base_rss:
        if "queue" in only:
            with profiling(stack.env, f"queue-{stack.data.size}", stack.web.worker_pids()):
                rows += _guarded(review_queue.NAME, failures, partial(review_queue.run, stack))
        if "intake" in only:
            with profiling(stack.env, f"intake-{stack.data.size}", stack.web.worker_pids()):
                rows += _guarded(intake.NAME, failures, partial(intake.run, stack))
    return rows + emit([web_memory_row(app_rss, base_rss, stack.data.size)])


def _size(env: Env, size: int, last: bool, only: set[str], failures: list[str]) -> list[Row]:
    """Everything that runs against one size's database and processes."""
    from bench import approve_latency, bulk_import, forwarding

    rows: list[Row] = []
    data = prepare(env, size)
    with size_stack(env, data) as stack:
        if only & {"queue", "intake"}:
            rows += _web_benchmarks(stack, only, failures)
        if "forwarding" in only:
            rows += _skipped(env, forwarding.NAME) or _guarded(
                forwarding.NAME, failures, partial(forwarding.run, stack)
            )
        if last and "latency" in only:
            rows += _skipped(env, approve_latency.NAME) or _guarded(
                approve_latency.NAME, failures, partial(approve_latency.run_redis, stack)
            )
        if last and "import" in only:
            rows += _skipped(env, bulk_import.NAME) or _guarded(
                bulk_import.NAME, failures, partial(bulk_import.run, stack)
            )
    return rows


def run(env: Env, only: set[str]) -> tuple[list[Row], list[str]]:
    """Every chosen benchmark at every size of the plan."""
    from bench import approve_latency

    rows: list[Row] = []
    failures: list[str] = []
    print("| " + " | ".join(HEADER) + " |", flush=True)
    sizes = env.plan.sizes
    for n, size in enumerate(sizes):
        name = f"size {size:,}"
        last = n == len(sizes) - 1
        rows += _skipped(env, name) or _guarded(
            name, failures, partial(_size, env, size, last, only, failures)
        )
    if "latency" in only:
        rows += _skipped(env, approve_latency.NAME) or _guarded(
            approve_latency.NAME, failures, partial(approve_latency.run_embedded, env)
        )
    return rows, failures


def report(path: Path, rows: list[Row], info: dict[str, str], command: str, note: str) -> None:
    """Write the run between the markers of `path` (the rest of the file is left alone)."""
    lines = [
        BEGIN,
        f"Run of {info['date']}: `{command}`"
        + (f" (plan `{info['plan']}`)" if info.get("plan") else ""),
        "",
    ]
    if note:
        lines += [f"> {note}", ""]
    lines += [f"- {key}: {value}" for key, value in info.items() if key not in ("date", "plan")]
    lines += ["", table(rows), "", END]
    block = "\n".join(lines)
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text += "\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, write the report; 1 if a benchmark failed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--plan", choices=sorted(PLANS), default="full")
    parser.add_argument("--only", default=",".join(CHOICES), help=f"some of {','.join(CHOICES)}")
    parser.add_argument("--sizes", default="", help="comma-separated record counts")
    parser.add_argument("--report", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    parser.add_argument("--no-report", action="store_true", help="print only")
    parser.add_argument("--json", default="", help="also write the rows as JSON here")
    parser.add_argument("--note", default="", help="a line to put above the figures")
    parser.add_argument(
        "--work-dir", default="", help="logs of the processes (default: a new /tmp one)"
    )
    parser.add_argument(
        "--profile", default="", help="record the measured processes with py-spy into this folder"
    )
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(CHOICES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    plan = PLANS[args.plan]
    if args.sizes:
        plan = replace(plan, sizes=tuple(int(s) for s in args.sizes.split(",")))
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    with bench_env(plan, Path(args.work_dir) if args.work_dir else None) as env:
        env.profile_dir = Path(args.profile) if args.profile else None
        info = {
            "plan": plan.name,
            **machine(env.postgres_server, env.redis_url(0), plan.name != "tiny"),
        }
        print(f"bench plan {plan.name}: sizes {plan.sizes}; work folder {env.work_dir}", flush=True)
        rows, failures = run(env, only)
    if not args.no_report:
        report(Path(args.report), rows, info, command.strip(), args.note)
        print(f"written to {args.report}")
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
