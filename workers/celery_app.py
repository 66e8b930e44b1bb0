"""The Celery app, bound to the Flask app: tasks run inside its app context.

Importing this module connects to nothing. The worker and beat processes build the Flask app
from the environment on first use; the web process binds its own app in `create_app`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery, Task
from celery.signals import celeryd_after_setup
from flask import Flask

from app.config import Settings
from app.db import POOL_SIZE_KEY

REDIS_SOCKET_TIMEOUT_SECONDS = 3.0
# Loggers that log every upstream HTTP request at INFO: three lines a record, each through the
# redaction filter. The worker keeps their warnings; `--loglevel DEBUG` keeps everything.
CHATTY_HTTP_LOGGERS = ("httpx", "httpcore")


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's settings for the portal (DESIGN.md: at-least-once delivery with an outbox)."""
    visibility_timeout = 3600
    config: dict[str, Any] = {
        "broker_url": settings.celery_broker_url,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": "intake",
        "timezone": "UTC",
        "beat_schedule": {
            "sweep-forwarding": {
                "task": "intake.sweep_forwarding",
                "schedule": settings.forward_sweep_seconds,
            },
            "compact-embedded-broker": {
                "task": "intake.compact_embedded_broker",
                "schedule": 3600.0,
            },
            "apply-retention": {
                "task": "intake.apply_retention",
                "schedule": 24 * 3600.0,
            },
            "sync-agreement-templates": {
                "task": "intake.sync_agreement_templates",
                "schedule": settings.template_sync_seconds,
            },
        },
    }
    if settings.celery_broker_url.startswith(("redis://", "rediss://")):
        # One visibility timeout everywhere (Celery's Redis caveats), and sockets that give up
        # on a hung Redis (web requests wait even less: workers/dispatch.py).
        config["broker_transport_options"] = {
            "visibility_timeout": visibility_timeout,
            "max_retries": 1,
            "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
        }
        config["visibility_timeout"] = visibility_timeout
        config["result_backend_transport_options"] = {"visibility_timeout": visibility_timeout}
    elif settings.celery_broker_url.startswith("sqla+sqlite"):
        # kombu hands these to SQLAlchemy's create_engine: wait for the broker file's write
        # lock (workers and publishers share it) instead of failing after pysqlite's 5 s.
        config["broker_transport_options"] = {"connect_args": {"timeout": 30}}
    return config


class FlaskTask(Task):
    """Runs the task body inside the Flask app's context."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with flask_app().app_context():
            return self.run(*args, **kwargs)


celery_app = Celery("intake", task_cls=FlaskTask, include=["workers.tasks"])
celery_app.config_from_object("workers.celeryconfig")  # lazy: read on first use

_bound: dict[str, Flask] = {}
_lock = threading.Lock()
# What this worker process runs with, noted when the worker starts (`_worker_started`).
_worker: dict[str, int] = {}


@celeryd_after_setup.connect
def _worker_started(instance: Any = None, **_kwargs: Any) -> None:
    """Note the worker's threads (the database pool is sized for them) and quiet httpx."""
    concurrency = getattr(instance, "concurrency", None)
    pool = getattr(instance, "pool_cls", None)
    # Only the threads pool runs `concurrency` tasks in this process; prefork children run one.
    threaded = "thread" in f"{getattr(pool, '__module__', '')}.{getattr(pool, '__name__', pool)}"
    if threaded and isinstance(concurrency, int) and concurrency > 0:
        _worker["concurrency"] = concurrency
    quiet_http_logging(getattr(instance, "loglevel", None))


def quiet_http_logging(loglevel: int | str | None) -> None:
    """Log httpx/httpcore at WARNING, unless the worker runs at DEBUG (`--loglevel DEBUG`)."""
    level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else loglevel
    if isinstance(level, int) and level <= logging.DEBUG:
        return
    for name in CHATTY_HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def worker_config() -> dict[str, Any]:
    """Settings overrides for the app a worker process builds: the pool for its threads."""
    concurrency = _worker.get("concurrency")
    return {POOL_SIZE_KEY: concurrency} if concurrency else {}


def init_celery(app: Flask) -> None:
    """Bind the Celery app to this Flask app and its settings."""
    settings: Settings = app.config["SETTINGS"]
    config = celery_config(settings)
    if celery_app.conf.broker_url != config["broker_url"]:
        # Another app (e.g. an earlier test) used another broker: drop its connection pools.
        celery_app._pool = None
        amqp = celery_app.__dict__.get("amqp")
        if amqp is not None:
            amqp._producer_pool = None
    celery_app.conf.update(config)
    app.extensions["celery"] = celery_app
    _bound["app"] = app


def flask_app() -> Flask:
    """The Flask app tasks run in; built from the environment in worker processes."""
    app = _bound.get("app")
    if app is None:
        with _lock:
            app = _bound.get("app")
            if app is None:
                from app import create_app

                app = create_app(worker_config())
    return app


def broker_reachable(timeout: float = 2.0) -> bool:
    """True when the broker accepts a connection within `timeout` seconds."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:  # any failure means "not reachable"
        return False
