"""Benchmark 1: API submissions per second and p99, against a bare validate-and-insert endpoint.

Every request submits a new customer's acceptance (`POST /api/v1/acceptances` with a reseller's
token: validation, the customer register, the record, the audit trail, one commit). The
baseline validates the same fields and inserts one row into the same database. Same gunicorn
settings, same load generator, runs alternated. Target: at least half the baseline's throughput.

`python -m bench.intake [--plan small] [--size N]` runs it alone.
"""

from __future__ import annotations

from functools import partial

from bench.common import Row, compare, emit, load, ratio_row, runs_note
from bench.stack import Stack, standalone

NAME = "1 intake"


def run(stack: Stack) -> list[Row]:
    """Load both endpoints; rows for throughput and p99."""
    plan, size = stack.env.plan, stack.data.size
    token = {"Authorization": f"Bearer {stack.data.submitter_token}"}
    post = partial(load, plan=plan, method="POST", body="intake", expect=(201,))
    compared = compare(
        plan,
        partial(post, stack.web.port, ["/api/v1/acceptances"], headers=token),
        partial(post, stack.base.port, ["/acceptances"]),
    )
    baseline = "bare validate + insert"
    return emit(
        [
            ratio_row(
                NAME,
                "API submissions: throughput",
                compared.app.rps,
                compared.base.rps,
                "req/s",
                at_least=0.5,
                baseline_what=baseline,
                size=size,
                note=runs_note(compared),
            ),
            ratio_row(
                NAME,
                "API submissions: p99 latency",
                compared.app.p99_ms,
                compared.base.p99_ms,
                "ms",
                baseline_what=baseline,
                size=size,
                note=f"p50 {compared.app.p50_ms:.0f} vs {compared.base.p50_ms:.0f} ms",
            ),
        ]
    )


if __name__ == "__main__":
    standalone(__doc__, run)
