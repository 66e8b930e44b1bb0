"""The upstream request cap: the local token bucket, the Redis bucket shared by processes, the
fallback when Redis is down, and the client asking before every HTTP request."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.config import ConfigError, Settings
from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact, PartnerCenterClient
from app.partner_center.fake_models import CUSTOMER_AGREEMENT, CUSTOMER_TEMPLATE_ID
from app.partner_center.fake_server import FakeServer
from app.partner_center.gateway import ConfirmationRequest, OutcomeKind, build_gateway
from app.partner_center.ratelimit import (
    PACING_SHARE,
    LocalRateLimiter,
    NoLimit,
    RateLimiter,
    RedisRateLimiter,
    build_rate_limiter,
)
from tests.conftest import AppFactory

from .conftest import TOKEN

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


class FakeTime:
    """A clock that only moves when someone sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CountingLimiter:
    """Counts acquisitions and lets every one through."""

    def __init__(self) -> None:
        self.count = 0

    def acquire(self) -> None:
        self.count += 1


def hammer(limiters: Sequence[RateLimiter], *, threads_each: int, seconds: float) -> list[float]:
    """Acquire from every limiter in `threads_each` threads for `seconds`; the grant times."""
    stamps: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(limiter: RateLimiter) -> None:
        while time.monotonic() < deadline:
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [
        threading.Thread(target=work, args=(limiter,))
        for limiter in limiters
        for _ in range(threads_each)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    return sorted(stamps)


def assert_within_cap(stamps: list[float], start: float, rate: float, burst: int) -> None:
    """At every grant, the grants so far fit in `rate` per second since `start` plus `burst`."""
    for index, stamp in enumerate(stamps):
        assert index + 1 <= rate * (stamp - start) + burst + 1e-6, (index, stamp - start)


# --- the local bucket -------------------------------------------------------------------------


def test_local_bucket_lets_a_burst_through_then_spaces_requests_exactly() -> None:
    fake = FakeTime()
    limiter = LocalRateLimiter(10, burst=3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        limiter.acquire()
    assert fake.sleeps == []
    limiter.acquire()
    limiter.acquire()
    assert fake.sleeps == pytest.approx([0.1, 0.1])

    # Idle time refills the bucket, but never beyond the burst.
    fake.sleeps.clear()
    fake.now += 60
    for _ in range(3):
        limiter.acquire()
    assert fake.sleeps == []
    limiter.acquire()
    assert fake.sleeps == pytest.approx([0.1])

    # A part-filled bucket waits only for the missing part.
    fake.sleeps.clear()
    fake.now += 0.04
    limiter.acquire()
    assert fake.sleeps == pytest.approx([0.06])


def test_local_bucket_defaults_to_one_at_a_time_and_takes_fractional_rates() -> None:
    fake = FakeTime()
    limiter = LocalRateLimiter(0.5, clock=fake.clock, sleep=fake.sleep)
    assert limiter.burst == 1
    limiter.acquire()
    limiter.acquire()
    limiter.acquire()
    assert fake.sleeps == pytest.approx([2.0, 2.0])


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (float("nan"), None), (5, 0)])
def test_local_bucket_refuses_nonsense(rate: float, burst: int | None) -> None:
    with pytest.raises(ValueError, match="rate|burst"):
        LocalRateLimiter(rate, burst)


def test_local_bucket_holds_the_cap_across_real_threads() -> None:
    rate, burst = 200.0, 5
    start = time.monotonic()
    limiter = LocalRateLimiter(rate, burst)
    stamps = hammer([limiter], threads_each=8, seconds=0.5)
    assert_within_cap(stamps, start, rate, burst)
    # Hungry threads get (nearly) all of it: the lock loses nothing.
    assert len(stamps) >= 0.8 * rate * 0.5


# --- choosing a limiter from the settings ------------------------------------------------------


def test_build_rate_limiter_picks_by_the_settings() -> None:
    assert isinstance(build_rate_limiter(rate=0, redis_url="redis://127.0.0.1:6379/0"), NoLimit)
    local = build_rate_limiter(rate=5, redis_url=None)
    assert isinstance(local, LocalRateLimiter)
    assert local.rate == pytest.approx(5 * PACING_SHARE)  # a little under the cap, see there
    shared = build_rate_limiter(rate=5, redis_url=CLOSED_PORT_URL)  # connects on first use only
    assert isinstance(shared, RedisRateLimiter)
    shared.close()


def test_settings_default_the_redis_url_to_a_redis_broker() -> None:
    plain = Settings.from_env(environ={})
    assert plain.upstream_max_requests_per_second == 0
    assert plain.redis_url == ""
    broker = "rediss://:pw@r.example:6380/1"
    assert Settings.from_env(environ={"CELERY_BROKER_URL": broker}).redis_url == broker
    explicit = Settings.from_env(
        environ={
            "CELERY_BROKER_URL": broker,
            "REDIS_URL": "redis://other:6379/2",
            "UPSTREAM_MAX_REQUESTS_PER_SECOND": "2.5",
        }
    )
    assert explicit.redis_url == "redis://other:6379/2"
    assert explicit.upstream_max_requests_per_second == 2.5
    with pytest.raises(ConfigError, match="UPSTREAM_MAX_REQUESTS_PER_SECOND"):
        Settings.from_env(environ={"UPSTREAM_MAX_REQUESTS_PER_SECOND": "-1"})
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings.from_env(environ={"REDIS_URL": "sentinel://r.example:26379"})
    # The embedded broker is not Redis: the cap stays in the process.
    embedded = Settings.from_env(environ={"CELERY_BROKER_URL": "sqla+sqlite:///b.sqlite"})
    assert embedded.redis_url == ""


# --- the Redis bucket ---------------------------------------------------------------------------

MakeRedisLimiter = Callable[..., RedisRateLimiter]


@pytest.fixture
def make_redis_limiter() -> Iterator[MakeRedisLimiter]:
    """Build Redis limiters; every one is closed after the test."""
    made: list[RedisRateLimiter] = []

    def make(url: str, rate: float, **kwargs: Any) -> RedisRateLimiter:
        limiter = RedisRateLimiter(url, rate, **kwargs)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        limiter.close()


def test_two_processes_share_one_cap_in_redis(
    redis_url: str, make_redis_limiter: MakeRedisLimiter
) -> None:
    rate, burst, seconds = 20.0, 2, 1.5
    key = f"test:rate:{uuid.uuid4().hex}"
    start = time.monotonic()
    # Two instances with their own connections stand for two worker processes.
    first = make_redis_limiter(redis_url, rate, key=key, burst=burst)
    second = make_redis_limiter(redis_url, rate, key=key, burst=burst)
    per_limiter: dict[int, int] = {}

    def counted(limiter: RedisRateLimiter) -> RateLimiter:
        class Counted:
            def acquire(self) -> None:
                limiter.acquire()
                per_limiter[id(limiter)] = per_limiter.get(id(limiter), 0) + 1

        return Counted()

    stamps = hammer([counted(first), counted(second)], threads_each=2, seconds=seconds)
    assert_within_cap(stamps, start, rate, burst)
    assert len(stamps) >= 0.8 * (rate * seconds + burst)
    assert set(per_limiter) == {id(first), id(second)}
    assert not first.degraded
    assert not second.degraded


def test_redis_key_expires_once_the_bucket_is_full_again(
    redis_url: str, make_redis_limiter: MakeRedisLimiter
) -> None:
    import redis

    key = f"test:rate:{uuid.uuid4().hex}"
    limiter = make_redis_limiter(redis_url, 1.0, key=key)
    limiter.acquire()
    client = redis.Redis.from_url(redis_url)
    try:
        ttl_ms = client.pttl(key)
    finally:
        client.close()
    assert 0 < ttl_ms <= 2000


def test_unreachable_redis_falls_back_to_the_local_rate(
    make_redis_limiter: MakeRedisLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    rate = 50.0
    limiter = make_redis_limiter(CLOSED_PORT_URL, rate)
    caplog.set_level(logging.INFO, logger="app.partner_center.ratelimit")
    start = time.monotonic()
    for _ in range(10):
        limiter.acquire()
    elapsed = time.monotonic() - start
    assert limiter.degraded
    assert 9 / rate - 0.01 <= elapsed < 2.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Redis" in warnings[0].getMessage()


def test_a_url_option_redis_py_rejects_falls_back_instead_of_failing(
    make_redis_limiter: MakeRedisLimiter,
) -> None:
    # e.g. a Celery-only option left in a broker URL reused for the cap; redis-py refuses it
    # only when it first connects.
    limiter = make_redis_limiter("redis://127.0.0.1:1/0?celery_only=1", 100.0)
    limiter.acquire()
    assert limiter.degraded


def test_redis_is_tried_again_later_and_the_shared_cap_resumes(
    redis_url: str,
    make_redis_limiter: MakeRedisLimiter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    limiter = make_redis_limiter(
        redis_url,
        1000.0,
        key=f"test:rate:{uuid.uuid4().hex}",
        retry_redis_after=30.0,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    real_script = limiter._script
    calls: list[str] = []
    outage = True

    def script(*args: Any, **kwargs: Any) -> Any:
        calls.append("redis")
        if outage:
            raise RedisConnectionError("Redis went away")
        return real_script(*args, **kwargs)

    monkeypatch.setattr(limiter, "_script", script)
    caplog.set_level(logging.INFO, logger="app.partner_center.ratelimit")

    limiter.acquire()
    limiter.acquire()
    assert limiter.degraded
    assert calls == ["redis"]  # resting: the second acquire did not knock again

    fake.now += 31
    limiter.acquire()
    assert calls == ["redis", "redis"]  # knocked again, still down: one warning only
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    outage = False
    fake.now += 31
    limiter.acquire()
    assert calls == ["redis", "redis", "redis"]
    assert not limiter.degraded
    assert any("available again" in r.getMessage() for r in caplog.records)


# --- the client asks before every HTTP request ---------------------------------------------------


def test_the_client_acquires_once_per_http_request(fake_pc: FakeServer) -> None:
    counter = CountingLimiter()
    tenant = str(uuid.uuid4())
    contact = Contact("Tania", "Carr", "tania.carr@example.com", "1234567890")
    with PartnerCenterClient(
        fake_pc.url, StaticTokenProvider(TOKEN), timeout=5.0, rate_limiter=counter
    ) as client:
        client.get_agreement_metadata(CUSTOMER_AGREEMENT)
        assert counter.count == 1
        client.get_customer_agreements(tenant, CUSTOMER_AGREEMENT)
        assert counter.count == 2
        client.get_direct_signed_status(tenant)
        assert counter.count == 3
        client.create_customer_agreement(
            tenant,
            agreement_type=CUSTOMER_AGREEMENT,
            template_id=CUSTOMER_TEMPLATE_ID,
            date_agreed=date(2024, 5, 1),
            contact=contact,
            request_id=str(uuid.uuid4()),
        )
        assert counter.count == 4


def test_the_gateway_paces_ask_then_send(fake_pc: FakeServer) -> None:
    counter = CountingLimiter()
    gateway = build_gateway(
        base_url=fake_pc.url,
        flow="legacy",
        token_provider=StaticTokenProvider(TOKEN),
        timeout=5.0,
        rate_limiter=counter,
    )
    request = ConfirmationRequest(
        customer_tenant_id=str(uuid.uuid4()),
        agreement_type=CUSTOMER_AGREEMENT,
        template_id=CUSTOMER_TEMPLATE_ID,
        date_agreed=date(2024, 5, 1),
        contact=Contact("Tania", "Carr", "tania.carr@example.com", "1234567890"),
        request_id=str(uuid.uuid4()),
    )
    try:
        assert gateway.confirm(request).kind == OutcomeKind.SENT
        # Read the confirmations, read the direct status, then POST: three requests.
        assert counter.count == 3
        assert gateway.confirm(request).kind == OutcomeKind.ALREADY_OURS
        assert counter.count == 4  # only the read this time
    finally:
        gateway.close()


def test_the_worker_gateway_is_capped_by_the_settings(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer
) -> None:
    from app.partner_center.runtime import gateway

    app = make_app(
        sqlite_url, PARTNER_CENTER_URL=fake_pc.url, UPSTREAM_MAX_REQUESTS_PER_SECOND=10.0
    )
    with app.app_context():
        start = time.monotonic()
        for _ in range(4):
            gateway().current_templates(CUSTOMER_AGREEMENT)
        elapsed = time.monotonic() - start
    # One at once, then one every 0.1 s.
    assert elapsed >= 0.3 - 0.01


# --- reservations: one Redis call per request, slots exactly one interval apart ------------------


def test_each_request_takes_the_next_slot_with_one_redis_call(
    redis_url: str, make_redis_limiter: MakeRedisLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    rate = 20.0
    waits: list[float] = []
    # No real sleep: the waits are the slots handed out, read against Redis's own clock.
    limiter = make_redis_limiter(
        redis_url, rate, key=f"test:rate:{uuid.uuid4().hex}", sleep=waits.append
    )
    calls = 0
    real_script = limiter._script

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_script(*args, **kwargs)

    monkeypatch.setattr(limiter, "_script", counted)
    start = time.monotonic()
    for _ in range(10):
        limiter.acquire()
    elapsed = time.monotonic() - start

    assert calls == 10  # a waiting request never asks again
    # The first goes at once; the n-th waits for slot n, counted from the first call.
    slots = [0.0, *waits]
    assert len(slots) == 10
    for n, wait in enumerate(slots[1:], start=1):
        assert n / rate - elapsed - 0.005 <= wait <= n / rate + 0.005, (n, wait)


def test_many_waiting_threads_lose_no_slot_and_keep_the_cap(
    redis_url: str, make_redis_limiter: MakeRedisLimiter
) -> None:
    rate, seconds = 20.0, 1.5
    limiter = make_redis_limiter(redis_url, rate, key=f"test:rate:{uuid.uuid4().hex}")
    start = time.monotonic()

    stamps = hammer([limiter], threads_each=16, seconds=seconds)

    assert_within_cap(stamps, start, rate, 1)
    # Every slot of the period is used (the last thread may still wait for one past the end).
    assert len(stamps) >= 0.9 * rate * seconds


def test_the_settings_cap_is_paced_a_little_under_itself() -> None:
    local = build_rate_limiter(rate=20, redis_url=None)
    assert isinstance(local, LocalRateLimiter)
    assert local.rate == pytest.approx(20 * PACING_SHARE)
    assert 0.9 < PACING_SHARE < 1
    shared = build_rate_limiter(rate=20, redis_url="redis://127.0.0.1:1/0")
    assert isinstance(shared, RedisRateLimiter)
    try:
        assert shared.rate == pytest.approx(20 * PACING_SHARE)
    finally:
        shared.close()


def test_reads_go_out_together_only_without_a_cap() -> None:
    def parallel(limiter: RateLimiter | None) -> bool:
        gw = build_gateway(
            base_url="http://127.0.0.1:9",
            flow="legacy",
            token_provider=StaticTokenProvider(TOKEN),
            timeout=1.0,
            rate_limiter=limiter,
        )
        try:
            return bool(gw._parallel_reads)  # type: ignore[attr-defined]
        finally:
            gw.close()

    assert parallel(None)
    assert parallel(NoLimit())
    assert not parallel(LocalRateLimiter(20))
