"""No emails or phone numbers in logs, and only ids in Celery messages."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask

from app.security.redaction import install_redaction, redact
from workers.celery_app import celery_app


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contact minji.kim@contoso.co.kr accepted", "contact [email] accepted"),
        ("call +82 2 1234 5678 today", "call [phone] today"),
        ("phone 010-1234-5678", "phone [phone]"),
        (
            "tenant 3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            "tenant 3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        ),
        ("record 42 in 1.5 s at 2026-11-25 21:00", "record 42 in 1.5 s at 2026-11-25 21:00"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_every_log_record_is_masked(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything").info("sent for %s, phone %s", "a.b@c.example", "+82212345678")
        logging.getLogger("httpx").warning("POST failed for %r", {"email": "x@y.example"})
    text = caplog.text
    assert "a.b@c.example" not in text
    assert "+82212345678" not in text
    assert "x@y.example" not in text
    assert "[email]" in text
    assert "[phone]" in text


def test_forwarding_messages_carry_only_the_record_id(app: Flask) -> None:
    from workers.tasks import forward_acceptance

    with celery_app.connection_for_write() as conn:
        queue = conn.SimpleQueue("intake")
        queue.clear()
        forward_acceptance.apply_async((42,), retry=False)
        message = queue.get(timeout=2)
        body = message.body if isinstance(message.body, str) else message.body.decode()
        payload = json.loads(body) if isinstance(body, str) else body
        message.ack()
        queue.close()
    args = payload[0] if isinstance(payload, list) else payload["args"]
    assert args == [42]
    assert message.headers["argsrepr"] == "(42,)"
