"""What the worker takes from its own start: the database pool size and quiet HTTP logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from celery.concurrency import get_implementation
from flask import Flask

from workers import celery_app


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in celery_app.CHATTY_HTTP_LOGGERS}
    noted = dict(celery_app._worker)
    celery_app._worker.clear()
    yield
    celery_app._worker.clear()
    celery_app._worker.update(noted)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _start(pool: str, concurrency: int, loglevel: int | str = logging.INFO) -> None:
    worker = SimpleNamespace(
        pool_cls=get_implementation(pool), concurrency=concurrency, loglevel=loglevel
    )
    celery_app._worker_started(instance=worker)


def test_a_threads_worker_sizes_the_pool_for_its_threads() -> None:
    assert celery_app.worker_config() == {}
    _start("threads", 32)
    assert celery_app.worker_config() == {"DB_POOL_SIZE": 32}


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_other_pools_run_one_task_per_process_and_keep_the_default(pool: str) -> None:
    _start(pool, 8)
    assert celery_app.worker_config() == {}


def test_the_worker_app_gets_the_pool_size(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    made = Flask("worker-test")

    def create_app(config: object = None) -> Flask:
        built.append(config)
        return made

    monkeypatch.setattr(celery_app, "_bound", {})
    monkeypatch.setattr("app.create_app", create_app)
    _start("threads", 12)
    assert celery_app.flask_app() is made
    assert built == [{"DB_POOL_SIZE": 12}]


@pytest.mark.parametrize("loglevel", [logging.INFO, "INFO", logging.WARNING])
def test_httpx_logs_only_warnings_in_the_worker(loglevel: int | str) -> None:
    for name in celery_app.CHATTY_HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _start("threads", 4, loglevel)
    for name in celery_app.CHATTY_HTTP_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)


@pytest.mark.parametrize("loglevel", [logging.DEBUG, "DEBUG"])
def test_a_debug_worker_keeps_every_request_line(loglevel: int | str) -> None:
    for name in celery_app.CHATTY_HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _start("threads", 4, loglevel)
    for name in celery_app.CHATTY_HTTP_LOGGERS:
        assert logging.getLogger(name).level == logging.NOTSET
