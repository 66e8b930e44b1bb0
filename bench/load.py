"""The load generator: a closed loop of N threads, in a process of its own.

`python -m bench.load` reads a JSON spec on stdin and prints one JSON result on stdout. The
same generator drives the portal and its bare baseline, so both pay the same client cost.
It imports nothing of the portal (it starts fast and keeps its CPU use small).

Spec: {"host", "port", "method", "paths": [...], "body": null | "intake", "headers": {...},
"concurrency", "duration", "warmup", "expect": [201], "keepalive": false}

Each thread sends requests back to back for `warmup` + `duration` seconds; only requests that
start after the warm-up count. Paths are used in turn. With "body": "intake" every request
carries a new valid submission (a fresh customer tenant and e-mail address).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


def intake_body(n: int) -> bytes:
    """A valid API submission for a customer nobody has sent yet."""
    tenant = uuid.uuid4()
    return json.dumps(
        {
            "customer": {
                "tenantId": str(tenant),
                "companyName": f"Bench Customer {n}",
                "domain": f"bench{tenant.hex[:12]}.example",
                "cloud": "public",
            },
            "dateAgreed": "2026-03-02",
            "contact": {
                "firstName": "Minji",
                "lastName": "Kim",
                "email": f"minji.{tenant.hex[:12]}@customer.example",
                "phoneNumber": "+82 2 1234 5678",
            },
        }
    ).encode()


@dataclass
class Tally:
    """What one thread saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def _worker(spec: dict[str, Any], start: float, stop: float, offset: int, tally: Tally) -> None:
    host, port = spec["host"], int(spec["port"])
    method, paths = spec["method"], spec["paths"]
    headers = dict(spec.get("headers") or {})
    keepalive = bool(spec.get("keepalive"))
    if not keepalive:
        headers["Connection"] = "close"
    body_kind = spec.get("body")
    if body_kind:
        headers["Content-Type"] = "application/json"
    expect = set(spec.get("expect") or [200])
    conn: http.client.HTTPConnection | None = None
    n = offset
    while True:
        began = time.monotonic()
        if began >= stop:
            break
        path = paths[n % len(paths)]
        body = intake_body(n) if body_kind == "intake" else None
        n += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if not keepalive or response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
                conn = None
            if began >= start:
                name = type(exc).__name__
                tally.errors[name] = tally.errors.get(name, 0) + 1
            continue
        if began < start:
            continue  # warm-up
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status in expect:
            tally.latencies.append(time.monotonic() - began)
    if conn is not None:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load described by `spec` and summarise it."""
    concurrency = int(spec["concurrency"])
    duration, warmup = float(spec["duration"]), float(spec.get("warmup", 0))
    start = time.monotonic() + warmup
    stop = start + duration
    tallies = [Tally() for _ in range(concurrency)]
    threads = [
        threading.Thread(target=_worker, args=(spec, start, stop, i * 1_000_000, tallies[i]))
        for i in range(concurrency)
    ]
    cpu_before = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + warmup + 60)
    latencies = [x for t in tallies for x in t.latencies]
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for t in tallies:
        for status, count in t.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
        for name, count in t.errors.items():
            errors[name] = errors.get(name, 0) + count
    ok = len(latencies)
    return {
        "ok": ok,
        "statuses": statuses,
        "errors": errors,
        "rps": ok / duration if duration > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=0.0) * 1000,
        "client_cpu_s": time.process_time() - cpu_before,
    }


def main() -> None:
    """Read the spec from stdin, print the result as JSON."""
    spec = json.loads(sys.stdin.read())
    print(json.dumps(run(spec)))


if __name__ == "__main__":
    main()
