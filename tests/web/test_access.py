"""Tenant isolation and role gates, swept over every route of each area."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlmodel import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from app.models import AcceptanceRecord, RecordStatus
from app.services import review
from tests.security.helpers import normalized
from tests.support import Users, submit
from tests.web.conftest import signed_in

SHARED_TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
A_TENANT = "6fa459ea-ee8a-4ca4-894e-db77e160355e"
B_TENANT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
MISSING = {
    "public_id": "0123456789abcdef0123456789abcdef",
    "customer_id": 999_999,
    "file_id": "fedcba9876543210fedcba9876543210",
}
FORM = {
    "tenant_id": A_TENANT,
    "company_name": "Hijacked",
    "cloud": "public",
    "date_agreed": "2026-03-02",
    "first_name": "Eve",
    "last_name": "Intruder",
    "email": "eve@intruder.example",
    "reason": "taking it",
}


@dataclass
class World:
    """Reseller A's and B's records, one of them for a customer both serve."""

    a_record: AcceptanceRecord
    a_shared: AcceptanceRecord
    b_record: AcceptanceRecord
    b_shared: AcceptanceRecord


@pytest.fixture
def world(db: Session, users: Users) -> World:
    a_record = submit(
        db,
        users.a_submitter,
        **{
            "customer.tenantId": A_TENANT,
            "customer.companyName": "Only A Corp",
            "contact.firstName": "Alice",
            "contact.lastName": "Aardvark",
            "contact.email": "alice@only-a.example",
        },
    )
    # Returned, so that A itself could edit or withdraw it: only scoping stops B.
    review.return_for_correction(db, actor=users.reviewer, record=a_record, reason="Check")
    db.commit()
    a_shared = submit(
        db,
        users.a_submitter,
        **{
            "customer.tenantId": SHARED_TENANT,
            "customer.companyName": "Shared as A",
            "contact.firstName": "Amos",
            "contact.lastName": "Anteater",
            "contact.email": "amos@shared.example",
        },
    )
    b_record = submit(
        db,
        users.b_submitter,
        **{
            "customer.tenantId": B_TENANT,
            "customer.companyName": "Only B Corp",
            "contact.firstName": "Boris",
            "contact.lastName": "Badger",
            "contact.email": "boris@only-b.example",
        },
    )
    b_shared = submit(
        db,
        users.b_submitter,
        **{
            "customer.tenantId": SHARED_TENANT,
            "customer.companyName": "Shared as B",
            "contact.firstName": "Bella",
            "contact.lastName": "Bison",
            "contact.email": "bella@shared.example",
        },
    )
    return World(a_record=a_record, a_shared=a_shared, b_record=b_record, b_shared=b_shared)


def rules_under(app: Flask, prefix: str) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(prefix)]


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def build(app: Flask, rule: Rule, values: dict[str, object]) -> str:
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments})


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_another_resellers_objects_are_404_exactly_like_missing_ones(
    app: Flask, db: Session, users: Users, world: World
) -> None:
    b = signed_in(app, "submitter@b.test")
    theirs = {
        "public_id": world.a_record.public_id,
        "customer_id": world.a_record.customer_id,
        "file_id": MISSING["file_id"],
    }
    swept = []
    differences = []
    for rule in rules_under(app, "/reseller/"):
        if not rule.arguments:
            continue
        for method in methods(rule):
            swept.append((method, rule.rule))
            other = b.open(build(app, rule, theirs), method=method, data=FORM)
            missing = b.open(build(app, rule, MISSING), method=method, data=FORM)
            if other.status_code != 404 or normalized(other.data) != normalized(missing.data):
                differences.append((method, rule.rule, other.status_code, missing.status_code))
    # The prefill parameter of the new form takes a customer id as well.
    other = b.get(f"/reseller/acceptances/new?customer={world.a_record.customer_id}")
    missing = b.get(f"/reseller/acceptances/new?customer={MISSING['customer_id']}")
    if other.status_code != 404 or normalized(other.data) != normalized(missing.data):
        differences.append(("GET", "/reseller/acceptances/new?customer=", other.status_code, 0))

    assert {
        ("GET", "/reseller/acceptances/<public_id>"),
        ("GET", "/reseller/acceptances/<public_id>/edit"),
        ("POST", "/reseller/acceptances/<public_id>/edit"),
        ("POST", "/reseller/acceptances/<public_id>/withdraw"),
        ("GET", "/reseller/customers/<int:customer_id>"),
    } <= set(swept)
    assert differences == []
    db.expire_all()
    assert world.a_record.status == RecordStatus.RETURNED
    assert world.a_record.contact_email == "alice@only-a.example"


@pytest.mark.parametrize("email", ["submitter@a.test", "admin@a.test"])
def test_reseller_users_get_403_on_every_review_url(
    app: Flask, db: Session, users: Users, world: World, email: str
) -> None:
    client = signed_in(app, email)
    # A's own record: even for its own data the review area is closed to a reseller.
    values = {
        "public_id": world.a_shared.public_id,
        "customer_id": world.a_shared.customer_id,
        "confirmation_id": 1,
        "file_id": MISSING["file_id"],
    }
    answers = {}
    for rule in rules_under(app, "/review/"):
        for method in methods(rule):
            url = build(app, rule, values)
            answers[(method, url)] = client.open(
                url, method=method, data={"reason": "x", "record": values["public_id"]}
            ).status_code
    assert len(answers) >= 9
    assert {key: code for key, code in answers.items() if code != 403} == {}
    db.expire_all()
    assert world.a_shared.status == RecordStatus.SUBMITTED


@pytest.mark.parametrize("email", ["reviewer@provider.test", "admin@provider.test"])
def test_provider_users_get_403_on_every_reseller_url(
    app: Flask, db: Session, users: Users, world: World, email: str
) -> None:
    client = signed_in(app, email)
    values = {
        "public_id": world.a_record.public_id,
        "customer_id": world.a_record.customer_id,
        "file_id": MISSING["file_id"],
    }
    answers = {}
    for rule in rules_under(app, "/reseller/"):
        for method in methods(rule):
            url = build(app, rule, values)
            answers[(method, url)] = client.open(url, method=method, data=FORM).status_code
    assert len(answers) >= 9
    assert {key: code for key, code in answers.items() if code != 403} == {}
    db.expire_all()
    assert world.a_record.status == RecordStatus.RETURNED


@pytest.mark.parametrize(
    ("email", "own", "foreign"),
    [
        (
            "submitter@a.test",
            ["Alice Aardvark", "Amos Anteater", A_TENANT, "Shared as A"],
            ["Boris Badger", "Bella Bison", "boris", "bella", B_TENANT, "Only B Corp", "as B"],
        ),
        (
            "admin@b.test",
            ["Boris Badger", "Bella Bison", B_TENANT, "Shared as B"],
            ["Alice Aardvark", "Amos Anteater", "alice", "amos", A_TENANT, "Only A Corp", "as A"],
        ),
    ],
)
def test_lists_never_show_another_resellers_records(
    app: Flask, world: World, email: str, own: list[str], foreign: list[str]
) -> None:
    client = signed_in(app, email)
    pages = {
        url: text(client.get(url))
        for url in (
            "/reseller/acceptances",
            "/reseller/acceptances?status=submitted",
            "/reseller/acceptances?status=returned",
            "/reseller/customers",
            f"/reseller/customers/{world.a_shared.customer_id}",
        )
    }
    everything = "\n".join(pages.values())
    for value in own:
        assert value in everything, value
    leaks = {url: [v for v in foreign if v in page] for url, page in pages.items()}
    assert {url: found for url, found in leaks.items() if found} == {}


def test_status_counts_count_only_own_records(app: Flask, world: World) -> None:
    page = text(signed_in(app, "submitter@b.test").get("/reseller/acceptances"))
    # B has two submitted records; A has one submitted and one returned.
    assert 'Submitted <span class="count">2</span>' in page
    assert "Returned" not in page
