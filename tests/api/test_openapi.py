"""The OpenAPI 3.1 document of API v1: served publicly, complete, in step with the input model,
and true to what the API answers (schemathesis drives every operation against the app)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.db import get_session
from app.models import AcceptanceRecord, RecordStatus
from app.models.acceptance_input import AcceptanceSubmission
from app.services import evidence
from app.web.api.openapi import document
from tests.conftest import AppFactory
from tests.security.helpers import World
from tests.support import load_users, submission

URL = "/api/v1/openapi.json"
# DESIGN.md "Public interfaces": the statuses, exactly.
DESIGN_STATUSES = [
    "submitted",
    "returned",
    "withdrawn",
    "rejected",
    "approved",
    "forwarding",
    "awaiting_customer",
    "expired",
    "confirmed",
    "duplicate",
    "failed",
    "revoked",
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# About 25 s on an idle machine for ~15 operation runs; the timeout below is a hard stop.
EXAMPLES_PER_OPERATION = 20
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PLACEHOLDER = re.compile(r"<(?:[^<>:]*:)?[^<>]*>|\{[^{}]*\}")


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The record ids the API hands to the forwarding worker (no broker in these tests)."""
    seen: list[int] = []

    def publish(record_ids: list[int], *, countdown: float | None = None) -> int:
        seen.extend(record_ids)
        return len(record_ids)

    monkeypatch.setattr("app.web.api.views.enqueue_forwarding", publish)
    return seen


def test_the_document_is_public_json_and_openapi_3_1(app: Flask) -> None:
    response = app.test_client().get(URL)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.get_json()
    assert body["openapi"] == "3.1.0"
    assert body == document()
    assert body["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": body["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    # Valid against the OpenAPI 3.1 meta-schema (schemathesis ships it).
    schema = schemathesis.openapi.from_wsgi(URL, app)
    schema.validate()
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert "POST /acceptances" in labels


def normalized(path: str) -> str:
    return PLACEHOLDER.sub("{}", path)


def test_every_api_route_and_method_is_in_the_document(app: Flask) -> None:
    doc = document()
    base = doc["servers"][0]["url"]
    described = {
        (normalized(base + path), method.upper())
        for path, item in doc["paths"].items()
        for method in item
    }
    routed = {
        (normalized(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(base + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routed, "no API routes found"
    assert sorted(routed - described) == []
    assert sorted(described - routed) == []


def _input_fields(model: type[Any]) -> dict[str, Any]:
    """The camelCase fields a pydantic input model reads, nested models expanded."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        nested = info.annotation
        fields[alias] = _input_fields(nested) if hasattr(nested, "model_fields") else None
    return fields


def _schema_fields(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        ref = prop.get("$ref", "")
        target = schemas.get(ref.rsplit("/", 1)[-1]) if ref else None
        fields[name] = (
            _schema_fields(target, schemas) if target and "properties" in target else None
        )
    return fields


def test_the_request_schema_names_exactly_the_fields_the_input_model_reads() -> None:
    schemas = document()["components"]["schemas"]
    assert _schema_fields(schemas["AcceptanceInput"], schemas) == _input_fields(
        AcceptanceSubmission
    )


def test_the_status_enum_is_exactly_the_designed_list() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["RecordStatus"]["enum"] == DESIGN_STATUSES
    assert [s.value for s in RecordStatus] == DESIGN_STATUSES


def test_every_operation_but_the_document_needs_a_bearer_token() -> None:
    doc = document()
    assert doc["security"] == [{"bearerAuth": []}]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            public = path == "/openapi.json"
            assert (operation.get("security") == []) is public, (method, path)
            if not public:
                assert "401" in operation["responses"], (method, path)


# --- schemathesis: what the API answers fits the document ------------------------------------


@pytest.fixture
def schema(app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi(URL, app)


def _fixed_values(world: World) -> dict[str, list[str]]:
    """Real records of Reseller A in several states (and their tenants), so that the fuzzing
    also reaches past 404 and checks full records: a confirmation, an acceptance link."""
    made = [
        world.record("a", status)
        for status in (
            RecordStatus.SUBMITTED,
            RecordStatus.CONFIRMED,
            RecordStatus.AWAITING_CUSTOMER,
            RecordStatus.FAILED,
        )
    ]
    with world.app.app_context():
        session = get_session()
        attached = evidence.attach(
            session,
            actor=load_users(session).a_submitter,
            record=session.get_one(AcceptanceRecord, made[0].id),
            filename="signed.pdf",
            content=PDF,
        )
        session.commit()
        file_id = attached.public_id
    return {
        "id": [m.public_id for m in made],
        "tenantId": [m.tenant_id for m in made],
        "fileId": [file_id],
    }


def fuzz(
    app: Flask, schema: Any, headers: dict[str, str], fixed: dict[str, list[str]], label: str
) -> Counter[int]:
    """Send one operation's generated cases (valid and invalid); returns the status counts."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    strategies = [operation.as_strategy(mode) for mode in schemathesis.GenerationMode]
    names = [parameter.name for parameter in operation.path_parameters]
    if names and all(name in fixed for name in names):
        # Real ids (the first record holds the file), so the cases also reach past 404.
        strategies += [
            operation.as_strategy(path_parameters={name: fixed[name][i] for name in names})
            for i in range(min(len(fixed[name]) for name in names))
        ]
    if label == "POST /acceptances":
        # Generated bodies rarely pass every business rule: add valid ones for 201s.
        strategies.append(st.builds(submission).flatmap(lambda b: operation.as_strategy(body=b)))
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        response = case.call(app=app, headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()
    return statuses


@pytest.mark.timeout(120)
def test_the_api_answers_as_the_document_says(app: Flask, schema: Any) -> None:
    world = World(app)
    fixed = _fixed_values(world)
    reseller = {"Authorization": f"Bearer {world.token('submitter@a.test')}"}
    reviewer = {"Authorization": f"Bearer {world.token('reviewer@provider.test')}"}
    labels = [op.ok().label for op in schema.get_all_operations()]
    seen = {label: fuzz(app, schema, reseller, fixed, label) for label in labels}
    # The provider's decisions are only 403s for a reseller: exercise them as a reviewer too.
    for label in labels:
        if label.endswith(("/approve", "/reject", "/return")):
            # A submitted record of its own, so that the decision can succeed once.
            fresh = {**fixed, "id": [world.record("a").public_id, *fixed["id"]]}
            seen[f"{label} (reviewer)"] = fuzz(app, schema, reviewer, fresh, label)
        elif label in ("GET /acceptances", "GET /acceptances/{id}"):
            # What the provider sees of a record differs (company names, every reseller's).
            seen[f"{label} (reviewer)"] = fuzz(app, schema, reviewer, fixed, label)
    # Not vacuous: every operation answered, and the successes were checked too.
    for label in labels:
        review = label.endswith(("/approve", "/reject", "/return"))
        statuses = seen[f"{label} (reviewer)" if review else label]
        assert sum(n for status, n in statuses.items() if status < 300) > 0, (label, seen)
    assert seen["POST /acceptances"][201] > 0


def test_invalid_data_is_refused_with_a_documented_error(app: Flask, schema: Any) -> None:
    """Negative cases (wrong types, missing fields) get a 4xx, never a success."""
    headers = {"Authorization": f"Bearer {World(app).token('submitter@a.test')}"}
    operation = schema.find_operation_by_label("POST /acceptances")

    statuses: Counter[int] = Counter()

    @settings(max_examples=40, deadline=None, database=None, derandomize=True)
    @given(case=operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))
    def run(case: Any) -> None:
        response = case.call(app=app, headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=[*CHECKS, negative_data_rejection])

    run()
    # Most cases reached validation (a few only drop the token, which is a 401).
    assert statuses[422] > statuses[401], statuses


def test_an_idempotent_replay_fits_the_document(app: Flask, schema: Any) -> None:
    headers = {"Authorization": f"Bearer {World(app).token('submitter@a.test')}"}
    operation = schema.find_operation_by_label("POST /acceptances")
    body = submission()
    answers = []
    for _ in range(2):
        case = operation.Case(body=body, headers={"Idempotency-Key": "replay-check"})
        response = case.call(app=app, headers=headers)
        case.validate_response(response, checks=CHECKS)
        answers.append(response)
    first, again = answers
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("idempotent-replayed") == ["true"]
    assert again.json() == first.json()


# Inputs that once answered 500 (found while fuzzing): each is now a documented 4xx, on both
# databases (PostgreSQL refuses NUL bytes in text; SQLite and psycopg refuse huge integers).
HUGE_ID_CURSOR = "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgMTE4MDU5MTYyMDcxNzQxMTMwMzQyNF0"
NESTED_CURSOR = "W1tbW1tbW1tbW1tbW1tb" * 200


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "field"),
    [
        ("GET", "/api/v1/acceptances?limit=%C2%B2", None, 422, "limit"),
        ("GET", "/api/v1/acceptances?limit=" + "9" * 5000, None, 422, "limit"),
        ("GET", f"/api/v1/acceptances?cursor={HUGE_ID_CURSOR}", None, 422, "cursor"),
        ("GET", f"/api/v1/acceptances?cursor={NESTED_CURSOR}", None, 422, "cursor"),
        ("GET", "/api/v1/acceptances/%00", None, 404, None),
        ("POST", "/api/v1/acceptances/%00/approve", None, 404, None),
        ("POST", "/api/v1/acceptances/<own>/reject", {"reason": "bad\x00reason"}, 422, "reason"),
        ("GET", "/api/v1/acceptances/%00/evidence", None, 404, None),
        ("GET", "/api/v1/acceptances/<own>/evidence/%00", None, 404, None),
    ],
    ids=[
        "limit-superscript",
        "limit-5000-digits",
        "cursor-huge-id",
        "cursor-nested",
        "id-nul",
        "approve-id-nul",
        "reason-nul",
        "evidence-id-nul",
        "evidence-file-nul",
    ],
)
def test_malformed_input_answers_a_documented_error_not_500(
    make_app: AppFactory,
    database_url: str,
    method: str,
    url: str,
    body: Any,
    status: int,
    field: str | None,
) -> None:
    app = make_app(database_url)
    world = World(app)
    who = "reviewer@provider.test" if method == "POST" else "submitter@a.test"
    headers = {"Authorization": f"Bearer {world.token(who)}"}
    url = url.replace("<own>", world.record("a").public_id)
    response = app.test_client().open(url, method=method, json=body, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    answer = response.get_json()
    if field is None:
        assert set(answer) == {"error"}
    else:
        assert list(answer["errors"]) == [field]
