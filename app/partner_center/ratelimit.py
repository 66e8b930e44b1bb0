"""A cap on the requests per second sent to Partner Center, shared by every worker.

Partner Center throttles per partner, not per process: the cap must hold for all workers on all
machines together. `RedisRateLimiter` keeps one bucket in Redis for the whole deployment;
`LocalRateLimiter` is the same bucket inside one process (the embedded mode runs one worker
process with threads). `build_rate_limiter` picks one from the settings.

Nothing here connects at import or construction: redis-py opens its first connection on the
first command.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

DEFAULT_KEY = "intake:upstream-rate"

# Rounding slack for the float arithmetic of the local bucket: without it, refilling 0.1 s at
# 10/s can give 0.9999999999999998 tokens and cost a needless extra sleep.
_EPSILON = 1e-9

# GCRA (the generic cell rate algorithm, a token bucket that stores one number) with
# reservations: the key holds the theoretical arrival time (TAT) of the next free slot, in
# microseconds of Redis server time, so the clocks of the workers' machines play no part. Each
# call takes the next slot, at max(TAT, now) - (burst - 1) * interval, moves TAT on by one
# interval and answers how long to wait for that slot. A waiting request never asks again: the
# slots go out exactly one interval apart whatever the number of waiting threads, none is lost
# between two polls, and each request costs one Redis call. A missing key reads as TAT = now (a
# full bucket), so the key only has to live until its TAT has passed.
# ARGV: interval (µs per request), burst. Returns the µs to wait for the slot taken (0: go now).
_GCRA_LUA = """
if redis.replicate_commands then
  -- Redis < 5 refuses a write after TIME unless effects are replicated; a no-op since 7.
  redis.replicate_commands()
end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%d', ttl_ms))
local wait = tat - (burst - 1) * interval - now
if wait <= 0 then
  return 0
end
return math.ceil(wait)
"""

# `build_rate_limiter` paces at this share of the configured cap. A request leaves a little
# after its slot (its thread wakes late on a busy machine, then builds the request) and is seen
# a little later still by the server: paced at exactly the cap, one late request can make
# cap + 2 arrive within one second. At 95 % of a 20/s cap (slots 53 ms apart) the full
# benchmark still caused one or two 429s a minute (requests more than ~100 ms late); at 92 %
# (54 ms) a request may be ~140 ms late before 22 land in one second.
PACING_SHARE = 0.92


# What makes Redis unusable: outages and timeouts (RedisError, OSError), and URL options redis-py
# only rejects when it first connects (TypeError, ValueError), e.g. a Celery-only one in a
# broker URL reused as REDIS_URL. None of them may stop the forwarder.
_REDIS_FAILURES = (RedisError, OSError, TypeError, ValueError)


class RateLimiter(Protocol):
    """Something that spaces out upstream requests."""

    def acquire(self) -> None:
        """Block until one request may be sent."""
        ...


class NoLimit:
    """No cap (`UPSTREAM_MAX_REQUESTS_PER_SECOND=0`)."""

    def acquire(self) -> None:
        """Return at once."""


def _check(rate: float, burst: int | None) -> int:
    """Validate the parameters; return the burst to use (1 by default)."""
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of requests per second, not {rate!r}")
    if burst is None:
        # One request at a time keeps every one-second window within the cap (plus one).
        return 1
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst!r}")
    return burst


class LocalRateLimiter:
    """A thread-safe token bucket inside one process: `rate` per second, `burst` at once.

    The bucket starts full. `clock` and `sleep` are injectable so that tests need not wait.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.rate = float(rate)
        self.burst = _check(self.rate, burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()

    def acquire(self) -> None:
        """Take a token, sleeping (outside the lock) until one is there."""
        while True:
            wait = self._try_take()
            if wait <= 0:
                return
            self._sleep(wait)

    def _try_take(self) -> float:
        """Take a token and return 0, or return the seconds until one is due."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)  # a clock never runs back, but be safe
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._updated = now
            if self._tokens >= 1.0 - _EPSILON:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


class RedisRateLimiter:
    """One GCRA bucket in Redis shared by every process on every machine using `key`.

    Each `acquire` runs an atomic Lua script (EVALSHA, loaded on first use) that takes the next
    free slot and says how long to wait for it; the caller sleeps that long and goes, without
    asking again (see `_GCRA_LUA`). When Redis fails, requests are paced by a
    `LocalRateLimiter` at the same rate (a warning is logged once per outage) and Redis is tried
    again after `retry_redis_after` seconds. A Redis outage stops nothing; while it lasts the
    cap holds per process, not for all processes together.
    """

    def __init__(
        self,
        redis_url: str,
        rate: float,
        *,
        key: str = DEFAULT_KEY,
        burst: int | None = None,
        socket_timeout: float = 1.0,
        retry_redis_after: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.rate = float(rate)
        self.burst = _check(self.rate, burst)
        self.key = key
        # Whole microseconds keep the value stored in Redis an exact integer.
        self._interval_us = max(1, round(1_000_000 / self.rate))
        self._retry_redis_after = retry_redis_after
        self._clock = clock
        self._sleep = sleep
        # Short timeouts and a single immediate retry (for a pooled connection Redis dropped):
        # redis-py's default retries with backoff would hold a request for seconds.
        self._redis = redis.Redis.from_url(
            redis_url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._script = self._redis.register_script(_GCRA_LUA)
        self._fallback = LocalRateLimiter(self.rate, self.burst, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self._down_until: float | None = None

    @property
    def degraded(self) -> bool:
        """True while Redis is failing and the local bucket paces the requests."""
        with self._lock:
            return self._down_until is not None

    def acquire(self) -> None:
        """Take a slot in the shared bucket and wait for it; on a Redis failure, the local one."""
        if self._redis_resting():
            self._fallback.acquire()
            return
        try:
            wait_us = int(self._script(keys=[self.key], args=[self._interval_us, self.burst]))
        except _REDIS_FAILURES as exc:
            self._redis_failed(exc)
            self._fallback.acquire()
            return
        self._redis_worked()
        if wait_us > 0:
            self._sleep(wait_us / 1_000_000)

    def close(self) -> None:
        """Close the Redis connections."""
        self._redis.close()

    def _redis_resting(self) -> bool:
        """Whether Redis failed recently enough not to be asked yet."""
        with self._lock:
            return self._down_until is not None and self._clock() < self._down_until

    def _redis_failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._clock() + self._retry_redis_after
        if first:
            logger.warning(
                "Redis rate limiter unavailable (%s: %s); pacing upstream requests in this "
                "process only, at %g/s, and trying Redis again in %g s",
                type(exc).__name__,
                exc,
                self.rate,
                self._retry_redis_after,
            )

    def _redis_worked(self) -> None:
        with self._lock:
            recovered = self._down_until is not None
            self._down_until = None
        if recovered:
            logger.info("Redis rate limiter available again; the cap is shared again")


def build_rate_limiter(*, rate: float, redis_url: str | None) -> RateLimiter:
    """The limiter for the settings: none for rate <= 0, Redis when a URL is set, else local.

    The cap `rate` is paced at `PACING_SHARE` of itself (see there).
    """
    if not rate > 0:
        return NoLimit()
    paced = rate * PACING_SHARE
    if redis_url:
        return RedisRateLimiter(redis_url, paced)
    return LocalRateLimiter(paced)
