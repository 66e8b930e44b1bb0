"""The benchmarks cannot rot: their pieces checked in-process, and the whole run at a tiny size.

`make bench` (docs/PERFORMANCE.md) runs the full plan; here `python -m bench --plan tiny`
starts every process each benchmark starts (gunicorn, Celery, the fake, the load generator) on
a few hundred records, and must produce a figure for every benchmark.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import BEGIN, END, report
from bench.common import Row, ratio_row, table
from bench.load import percentile
from bench.upstream import Clocked

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = (
    "1 intake",
    "2 review queue",
    "3 forwarding",
    "4 approve to confirmed",
    "5 bulk import",
    "6 memory",
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 99) == 0.0


def test_ratio_rows_judge_their_bound() -> None:
    assert ratio_row("x", "t", 60, 100, "req/s", at_least=0.5).met is True
    assert ratio_row("x", "t", 40, 100, "req/s", at_least=0.5).met is False
    row = ratio_row("x", "t", 1.4, 1.0, "x", at_most=1.3)
    assert row.met is False
    assert row.ratio == pytest.approx(1.4)
    assert "**missed**" in table([row])


def test_report_replaces_only_its_block(tmp_path: Path) -> None:
    path = tmp_path / "PERFORMANCE.md"
    path.write_text(
        f"# Performance\n\nprose before\n\n{BEGIN}\nold figures\n{END}\n\nprose after\n"
    )
    rows = [Row("1 intake", "throughput", 12.5, "req/s", 25.0, "bare", 0.5, ">= 0.5x", True, 10)]
    info = {"date": "2026-11-26 00:00 UTC", "plan": "tiny", "cores": "2"}
    report(path, rows, info, "python -m bench --plan tiny", "preliminary")
    text = path.read_text()
    assert "old figures" not in text
    assert text.startswith("# Performance\n\nprose before\n")
    assert text.rstrip().endswith("prose after")
    assert "| 1 intake | 10 | throughput | 12.5 req/s | 25.0 req/s (bare) | 0.50 |" in text
    assert "> preliminary" in text
    assert "- cores: 2" in text


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b"ok"]


def test_upstream_refuses_over_the_cap_and_counts() -> None:
    clocked = Clocked(_app, limit=3)
    statuses = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status.split()[0])

    for _ in range(6):  # in well under a second: cap + 1 pass, the rest are refused
        clocked({"PATH_INFO": "/v1/x", "REQUEST_METHOD": "GET"}, start_response)
    assert statuses == ["200", "200", "200", "200", "429", "429"]
    stats = clocked.stats()
    assert stats["throttled"] == 2
    assert len(stats["times"]) == 4
    assert stats["methods"] == {"GET": 4}
    clocked({"PATH_INFO": "/_fake/stats", "REQUEST_METHOD": "GET"}, start_response)
    assert len(clocked.stats()["times"]) == 4  # only /v1 requests are Partner Center's


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_every_benchmark_runs_at_a_tiny_size(postgres_server_url: str, tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (the bench starts a private one)")
    out = tmp_path / "rows.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--plan",
            "tiny",
            "--no-report",
            "--json",
            str(out),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_POSTGRES_URL": postgres_server_url},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    rows = json.loads(out.read_text())
    for name in BENCHMARKS:
        mine = [r for r in rows if r["bench"] == name]
        assert mine, f"{name}: no row\n{completed.stdout}"
        if name == "5 bulk import" and mine[0]["what"] == "not available":
            continue
        assert all(r["figure"] is not None for r in mine), mine
    by_what = {(r["bench"], r["what"]): r for r in rows}
    intake = by_what[("1 intake", "API submissions: throughput")]
    assert intake["figure"] > 0
    assert intake["baseline"] > 0
    assert intake["ratio"] == pytest.approx(intake["figure"] / intake["baseline"])
    memory = [r for r in rows if r["bench"] == "6 memory"]
    assert all(10 < r["figure"] < 2048 for r in memory), memory
    forwarded = next(r for r in rows if r["what"] == "(b) no cap: records/s" and r["note"])
    assert "'confirmed': 30}" in forwarded["note"]  # every record of the tiny plan, once
    # A count, not zero: whether the pacing holds is the full benchmark's finding (and the
    # limiter's own tests'); this run shares the machine with the rest of the suite.
    assert by_what[("3 forwarding", "(a) cap 20/s: 429 answers caused")]["figure"] >= 0
