"""Benchmark 2: the review queue's first page and a deep page, against a bare keyset list.

The queue holds `size` submitted records. The deep page is the last full one: page 2,000 of
the 100,000-record queue (page 200 of 10,000), reached as a reviewer reaches it, through the
"next" cursor. Both servers read the same table; the portal renders its page for a signed-in
reviewer (session, layout, filters, status counts), the baseline renders a bare 50-row table.

Targets: each page at least half the baseline's throughput; the deep page within 1.3 times the
first (its time per request, i.e. first-page req/s over deep-page req/s).

`python -m bench.review_queue [--plan small] [--size N]` runs it alone.
"""

from __future__ import annotations

from functools import partial

from bench.baseline_app import cursor_for
from bench.common import PAGE, Row, compare, emit, load, ratio_row, runs_note
from bench.data import keyset_position, sign_in
from bench.stack import Stack, standalone

NAME = "2 review queue"
REVIEWER = "reviewer@provider.test"


def run(stack: Stack) -> list[Row]:
    """Load both servers' first and deep pages; rows for throughput, p99 and depth."""
    from app.web.helpers import encode_cursor

    plan, data = stack.env.plan, stack.data
    depth = max(2, data.size // PAGE)
    position = keyset_position(data.database_url, depth)
    if position is None:
        raise RuntimeError(f"the queue has no page {depth}")
    cookie = sign_in(data.database_url, stack.broker_url, REVIEWER, "/review/").headers
    pages = {
        "first page": ("/review/", "/queue"),
        f"page {depth:,}": (
            f"/review/?after={encode_cursor(*position)}",
            f"/queue?after={cursor_for(*position)}",
        ),
    }
    rows: list[Row] = []
    results = {}
    baseline = "bare keyset list"
    for label, (app_path, base_path) in pages.items():
        compared = compare(
            plan,
            partial(load, stack.web.port, [app_path], plan=plan, headers=cookie),
            partial(load, stack.base.port, [base_path], plan=plan),
        )
        results[label] = compared
        rows += emit(
            [
                ratio_row(
                    NAME,
                    f"{label}: throughput",
                    compared.app.rps,
                    compared.base.rps,
                    "req/s",
                    at_least=0.5,
                    baseline_what=baseline,
                    size=data.size,
                    note=runs_note(compared),
                ),
                ratio_row(
                    NAME,
                    f"{label}: p99 latency",
                    compared.app.p99_ms,
                    compared.base.p99_ms,
                    "ms",
                    baseline_what=baseline,
                    size=data.size,
                    note=f"p50 {compared.app.p50_ms:.0f} vs {compared.base.p50_ms:.0f} ms",
                ),
            ]
        )
    first, deep = results["first page"], results[f"page {depth:,}"]
    app_depth = first.app.rps / deep.app.rps
    base_depth = first.base.rps / deep.base.rps
    rows += emit(
        [
            Row(
                NAME,
                f"page {depth:,} time / first page time",
                app_depth,
                "x",
                base_depth,
                baseline,
                None,
                "<= 1.3x",
                app_depth <= 1.3,
                data.size,
                "time per request: first-page req/s over deep-page req/s",
            )
        ]
    )
    return rows


if __name__ == "__main__":
    standalone(__doc__, run)
