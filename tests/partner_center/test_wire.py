"""Pure functions of the client: Retry-After, dates, GUIDs, and status-to-error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from app.partner_center.client import (
    error_for_response,
    normalize_guid,
    parse_datetime,
    parse_retry_after,
)
from app.partner_center.errors import AuthFailed, Rejected, Transient

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("57", 57.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        ("Sat, 01 Mar 2025 12:02:00 GMT", 120.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),  # already past: retry now
        ("-5", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_http_date_defaults_to_now() -> None:
    header = format_datetime(datetime.now(UTC) + timedelta(seconds=100), usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None
    assert 95 <= seconds <= 100


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-08-26T00:00:00", datetime(2019, 8, 26, tzinfo=UTC)),
        ("2018-06-14T00:00:00.000Z", datetime(2018, 6, 14, tzinfo=UTC)),
        ("2019-08-26T00:00:00.0000000Z", datetime(2019, 8, 26, tzinfo=UTC)),
        ("2019-08-26T02:00:00+02:00", datetime(2019, 8, 26, tzinfo=UTC)),
        ("2019-08-26", datetime(2019, 8, 26, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (20190826, None),
    ],
)
def test_parse_datetime_is_aware_utc(text: Any, expected: datetime | None) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


def test_normalize_guid() -> None:
    assert (
        normalize_guid("3D6F2C09-EB40-48CA-A4B3-D24C9C007531")
        == "3d6f2c09-eb40-48ca-a4b3-d24c9c007531"
    )
    for bad in ("3d6f2c09eb4048caa4b3d24c9c007531", "3d6f2c09-eb40-48ca-a4b3-d24c9c00753", "x"):
        with pytest.raises(ValueError, match="GUID"):
            normalize_guid(bad)


def _response(
    status: int, body: Any = None, *, text: str | None = None, **headers: str
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def test_success_maps_to_no_error() -> None:
    assert error_for_response(_response(200, {})) is None
    assert error_for_response(_response(201, {})) is None


def test_401_is_auth_failed() -> None:
    error = error_for_response(_response(401, {"code": 900421, "description": "MFA required"}))
    assert isinstance(error, AuthFailed)
    assert (error.code, error.status, error.message) == ("900421", 401, "MFA required")


def test_403_with_an_auth_code_is_auth_failed() -> None:
    body = {"code": 1002, "description": "Authorization Failed", "data": [], "source": "PartnerFD"}
    error = error_for_response(_response(403, body))
    assert isinstance(error, AuthFailed)
    assert error.code == "1002"


def test_other_403_is_rejected() -> None:
    body = {"code": 600006, "description": "The requested action is not allowed"}
    error = error_for_response(_response(403, body))
    assert isinstance(error, Rejected)
    assert (error.code, error.status) == ("600006", 403)


def test_600061_body_is_rejected_with_string_code() -> None:
    body = {
        "code": 600061,
        "message": "A partner confirmed agreement already exists for the customer.",
        "description": "A partner confirmed agreement already exists for the customer.",
        "errorName": "PartnerConfirmedAgreementAlreadyExists",
        "isRetryable": False,
    }
    error = error_for_response(_response(409, body))
    assert isinstance(error, Rejected)
    assert (error.code, error.status) == ("600061", 409)
    assert error.message.startswith("A partner confirmed agreement")


def test_message_falls_back_to_message_field() -> None:
    error = error_for_response(_response(400, {"code": "3000", "message": "Invalid property"}))
    assert isinstance(error, Rejected)
    assert (error.code, error.message) == ("3000", "Invalid property")


def test_non_json_4xx_is_still_a_sensible_rejection() -> None:
    error = error_for_response(_response(404, text="<html>Not here</html>"))
    assert isinstance(error, Rejected)
    assert (error.code, error.status, error.message) == ("404", 404, "<html>Not here</html>")
    empty = error_for_response(_response(400, text=""))
    assert isinstance(empty, Rejected)
    assert empty.message == "Bad Request"


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_408_and_5xx_are_transient_and_answered(status: int) -> None:
    error = error_for_response(_response(status, text="upstream trouble", **{"Retry-After": "4"}))
    assert isinstance(error, Transient)
    assert (error.code, error.status, error.answered, error.retry_after) == (
        str(status),
        status,
        True,
        4.0,
    )


def test_429_is_transient_with_retry_after() -> None:
    body = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 57 seconds."}
    error = error_for_response(_response(429, body, **{"Retry-After": "57"}))
    assert isinstance(error, Transient)
    assert (error.code, error.status, error.retry_after) == ("429", 429, 57.0)
    assert error.message == "Rate limit is exceeded. Try again in 57 seconds."
    no_header = error_for_response(_response(429, body))
    assert isinstance(no_header, Transient)
    assert no_header.retry_after is None


def test_errors_read_well() -> None:
    assert str(
        Rejected(
            "Date of agreement cannot be greater than the current date.", code="600002", status=400
        )
    ) == (
        "Partner Center rejected the request (HTTP 400, code 600002): "
        "Date of agreement cannot be greater than the current date."
    )
    assert str(Transient("Rate limit", code="429", status=429, retry_after=7)) == (
        "Partner Center transient error 429: Rate limit (retry after 7 s)"
    )
    assert str(Transient("read timed out", code="timeout", answered=False)) == (
        "Partner Center transient error timeout: read timed out (no response; outcome unknown)"
    )
    assert str(AuthFailed("AADSTS700082: expired", code="invalid_grant")) == (
        "Partner Center authentication failed (code invalid_grant): AADSTS700082: expired"
    )
    assert "HTTP 401" in str(AuthFailed("Access denied", code="400", status=401))
