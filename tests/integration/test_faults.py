"""The fault-injection suite: no approved record lost, no customer confirmed twice.

Bounded versions of `make chaos`, on PostgreSQL + Redis with three workers and on the embedded
mode (SQLite + the embedded broker) with two.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.chaos import Scenario, markdown, run

pytestmark = pytest.mark.slow

KINDS = ("error5xx", "throttle", "timeout", "hangAfterCommit")


def _report(name: str, found: object) -> None:
    from tests.integration.chaos_check import Findings

    assert isinstance(found, Findings)
    print("\n" + markdown([(name, found)]))  # noqa: T201 (shown with -s, and on failure)


def test_distributed_pipeline_survives_kills_broker_loss_and_upstream_faults(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    scenario = Scenario(
        name="PostgreSQL + Redis",
        records=300,
        # Hangs after commit hit writes only, one per customer: 120 customers make 120 writes
        # at 5 %, so the run sees every fault kind (60 left about one run in twenty without).
        customers=120,
        workers=3,
        min_kills_in_flight=3,
        min_broker_losses=2,
        min_fault_kinds=KINDS,
    )
    found = run(scenario, database_url=postgres_url, work_dir=tmp_path)
    _report(scenario.name, found)
    assert found.violations == []
    assert found.figures["kills_in_flight"] >= 3
    assert found.figures["broker_losses"] >= 2
    faults = found.figures["injected_upstream_faults"]
    assert set(KINDS) <= set(faults)


def test_embedded_pipeline_survives_kills_and_lost_messages_without_lock_errors(
    sqlite_url: str, tmp_path: Path
) -> None:
    scenario = Scenario(
        name="SQLite + embedded broker",
        embedded=True,
        records=300,
        customers=60,
        workers=2,
        min_kills_in_flight=3,
    )
    found = run(scenario, database_url=sqlite_url, work_dir=tmp_path)
    _report(scenario.name, found)
    assert found.violations == []
    assert found.figures["database_is_locked_in_logs"] == 0
    assert found.figures["kills_in_flight"] >= 3


def test_enhanced_loop_survives_kills_between_steps(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The 2026 loop under faults: workers killed between create, polls and finalize; customers
    accepting or letting links lapse; resellers re-issuing (R18-R20)."""
    scenario = Scenario(
        name="Enhanced flow, PostgreSQL + Redis",
        flow="enhanced",
        records=150,
        customers=50,
        workers=3,
        min_kills_in_flight=3,
    )
    found = run(scenario, database_url=postgres_url, work_dir=tmp_path)
    _report(scenario.name, found)
    assert found.violations == []
    assert found.figures["most_live_attestations_per_customer"] == 1
    assert found.figures["customers_confirmed_not_exactly_once"] == 0
    assert found.figures["kills_in_flight"] >= 3
    assert found.figures["links_accepted"] >= 50
    assert found.figures["links_lapsed"] >= 1
