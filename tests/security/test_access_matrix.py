"""The access-control matrix (access_matrix.toml): every route x actor x ownership, generated.

RELIABILITY-SECURITY.md 7.5 and DESIGN.md: a reseller sees its own records and customers,
another reseller's object answers exactly like a missing one (404, never 403, never a leak in a
list, a count, a search, an export or an error message); provider pages are the provider's; the
API takes a bearer token and follows the same rules.
"""

from __future__ import annotations

import html
import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.db import get_session
from app.models import AcceptanceRecord, Confirmation, RecordStatus, User, utcnow
from app.models.ledger import ConfirmationSource
from app.services import evidence, imports
from app.services.forwarding.state import covered_reason, settle
from app.services.users import create_api_token
from tests.security.helpers import (
    ACTORS,
    EMAILS,
    MISSING_ID,
    MISSING_PUBLIC_ID,
    MISSING_TENANT_ID,
    NEW_PASSWORD,
    OWN_RESELLER,
    PROVIDER_ACTORS,
    SUBMITTERS,
    TEMPLATE_ID,
    Made,
    SignIns,
    World,
    changed_tables,
    normalized,
    other_reseller,
    scalar,
    snapshot,
)
from tests.support import PASSWORD, load_users, new_tenant, submission

MATRIX_FILE = Path(__file__).with_name("access_matrix.toml")
OWNERSHIPS = ("own", "other", "missing")
OUTCOMES = frozenset({"allow", "home", "login", "401", "403", "404", "405"})
OBJECTS = frozenset(
    {"record", "customer", "confirmation", "user", "evidence", "import", "token", "none"}
)
# What the evidence routes send and what the "evidence" object holds (a PDF by its bytes).
EVIDENCE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
HOME = {"provider": "/review/", "reseller": "/reseller/acceptances"}
PLACEHOLDER = re.compile(r"<(?:[^<>]*:)?(\w+)>")


@dataclass(frozen=True)
class Entry:
    """One route and method of the matrix."""

    id: str
    rule: str
    method: str
    object: str
    expect: dict[str, Any]
    values: dict[str, str] = field(default_factory=dict)
    query: str = ""
    allow: int = 200
    state: str = ""
    body: str = "none"
    effect: str = "none"

    @property
    def api(self) -> bool:
        return self.rule.startswith("/api/")

    @property
    def ownerships(self) -> tuple[str, ...]:
        return OWNERSHIPS if self.object != "none" else ("none",)

    def outcome(self, actor: str, ownership: str) -> str:
        value = self.expect[actor]
        return str(value if isinstance(value, str) else value[ownership])


def load_matrix() -> list[Entry]:
    with MATRIX_FILE.open("rb") as handle:
        return [Entry(**raw) for raw in tomllib.load(handle)["route"]]


ENTRIES = load_matrix()


def matrix_cases() -> list[Any]:
    return [
        pytest.param(entry, actor, ownership, id=f"{entry.id}-{actor}-{ownership}")
        for entry in ENTRIES
        for actor in ACTORS
        for ownership in entry.ownerships
    ]


def same_answer_cases() -> list[Any]:
    """Object routes where an actor is refused both the other reseller's and a missing object."""
    return [
        pytest.param(entry, actor, id=f"{entry.id}-{actor}")
        for entry in ENTRIES
        if entry.object != "none"
        for actor in ACTORS
        if entry.outcome(actor, "other") == entry.outcome(actor, "missing") in {"403", "404"}
    ]


# --- the file itself -----------------------------------------------------------------------------


def route_methods(app: Flask) -> dict[str, set[str]]:
    """Each URL rule (but static files) and the methods it answers, HEAD and OPTIONS aside."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            found.setdefault(rule.rule, set()).update((rule.methods or set()) - {"HEAD", "OPTIONS"})
    return found


def test_the_matrix_is_well_formed() -> None:
    assert len({e.id for e in ENTRIES}) == len(ENTRIES), "entry ids must be unique"
    problems: list[tuple[str, str, object]] = []
    for entry in ENTRIES:
        if entry.object not in OBJECTS:
            problems.append((entry.id, "object", entry.object))
        if set(entry.expect) != set(ACTORS):
            problems.append((entry.id, "actors", sorted(set(entry.expect) ^ set(ACTORS))))
            continue
        for actor, value in entry.expect.items():
            if isinstance(value, dict):
                if entry.object == "none" or set(value) != set(OWNERSHIPS):
                    problems.append((entry.id, actor, value))
                    continue
                outcomes = set(value.values())
            else:
                outcomes = {value}
            if not outcomes <= OUTCOMES:
                problems.append((entry.id, actor, sorted(outcomes - OUTCOMES)))
            if entry.api and outcomes & {"login", "home"}:
                problems.append((entry.id, actor, "the API answers 401, never a redirect"))
    assert problems == []


def test_another_resellers_object_is_listed_like_a_missing_one() -> None:
    # Only the provider, which sees every reseller's data, may tell the two apart.
    differing = [
        (entry.id, actor, entry.outcome(actor, "other"), entry.outcome(actor, "missing"))
        for entry in ENTRIES
        if entry.object != "none"
        for actor in ACTORS
        if entry.outcome(actor, "other") != entry.outcome(actor, "missing")
    ]
    assert [d for d in differing if d[1] not in PROVIDER_ACTORS] == []


def test_every_route_and_method_has_a_row_in_the_matrix(app: Flask) -> None:
    listed = {(e.rule, e.method) for e in ENTRIES}
    missing = sorted(
        (rule, method)
        for rule, methods in route_methods(app).items()
        for method in methods
        if (rule, method) not in listed
    )
    assert missing == [], f"add these to {MATRIX_FILE.name}: {missing}"


def test_the_matrix_lists_only_routes_that_exist(app: Flask) -> None:
    routes = route_methods(app)
    stale = [e.id for e in ENTRIES if e.rule not in routes]
    assert stale == []
    # A method the rule does not take is a 405 for everyone, whatever the object.
    wrong = [
        e.id
        for e in ENTRIES
        if e.method not in routes[e.rule]
        and {e.outcome(a, o) for a in ACTORS for o in e.ownerships} != {"405"}
    ]
    assert wrong == []


# --- building a case ---------------------------------------------------------------------------


@dataclass
class Target:
    """What one case acts on."""

    values: dict[str, Any]
    record: Made | None = None
    user_id: int | None = None
    token_id: int | None = None
    bulk: list[Made] = field(default_factory=list)


def prepare(world: World, entry: Entry, actor: str, ownership: str) -> Target:
    """The object of the case (own or the other reseller's) in the state the entry asks for."""
    values: dict[str, Any] = {
        "public_id": MISSING_PUBLIC_ID,
        "customer_id": MISSING_ID,
        "user_id": MISSING_ID,
        "confirmation_id": MISSING_ID,
        "tenant_id": MISSING_TENANT_ID,
        "file_id": MISSING_PUBLIC_ID,
        "token_id": MISSING_ID,
        **entry.values,
    }
    target = Target(values=values)
    own = OWN_RESELLER[actor]
    reseller = own if ownership == "own" else other_reseller(own)
    if ownership in ("own", "other"):
        if entry.object in ("record", "customer", "confirmation", "evidence"):
            target.record = world.record(reseller, entry.state or RecordStatus.SUBMITTED)
            if entry.object == "evidence":
                values["file_id"] = attach_evidence(world, target.record, reseller)
            values.update(
                public_id=target.record.public_id,
                customer_id=target.record.customer_id,
                confirmation_id=target.record.confirmation_id or MISSING_ID,
                tenant_id=target.record.tenant_id,
            )
        elif entry.object == "user":
            target.user_id = world.user(reseller, active=entry.state != "inactive")
            values["user_id"] = target.user_id
        elif entry.object == "import":
            values["public_id"] = make_import(world, reseller)
        elif entry.object == "token":
            target.token_id = values["token_id"] = api_token_id(world, actor, ownership)
    if entry.body == "bulk":
        target.bulk = [world.record("a"), world.record("b")]
    return target


def api_token_id(world: World, actor: str, ownership: str) -> int:
    """An API token: the actor's own (Reseller A's submitter's for anonymous and the disabled
    user), or one of the other reseller's submitter (Reseller B's for the provider)."""
    if ownership == "own":
        email = EMAILS.get(actor, EMAILS["reseller_submitter_a"])
        email = EMAILS["reseller_submitter_a"] if actor == "disabled" else email
    else:
        email = SUBMITTERS[other_reseller(OWN_RESELLER[actor])]
    with world.app.app_context():
        session = get_session()
        user = session.get_one(User, world.user_ids[email])
        token, _secret = create_api_token(session, actor=None, user=user, label="matrix")
        session.commit()
        return token.id or 0


def attach_evidence(world: World, made: Made, reseller: str) -> str:
    """A file on the record, attached by its reseller's submitter; the file's public id."""
    with world.app.app_context():
        session = get_session()
        users = load_users(session)
        attached = evidence.attach(
            session,
            actor=users.a_submitter if reseller == "a" else users.b_submitter,
            record=session.get_one(AcceptanceRecord, made.id),
            filename="signed.pdf",
            content=EVIDENCE_PDF,
        )
        session.commit()
        return attached.public_id


def import_csv() -> bytes:
    """A one-row CSV file for the bulk import (R15)."""
    form = acceptance_form(new_tenant())
    header = "tenant_id,company_name,date_agreed,first_name,last_name,email"
    cells = [form[k] for k in ("tenant_id", "company_name", "date_agreed")]
    cells += [form[k] for k in ("first_name", "last_name", "email")]
    return f"{header}\r\n{','.join(cells)}\r\n".encode()


def make_import(world: World, reseller: str) -> str:
    """An import job of the reseller's submitter (queued, not run); its public id."""
    with world.app.app_context():
        session = get_session()
        users = load_users(session)
        job = imports.create_job(
            session,
            actor=users.a_submitter if reseller == "a" else users.b_submitter,
            filename="matrix.csv",
            content=import_csv(),
        )
        session.commit()
        return job.public_id


def url_for_case(entry: Entry, values: dict[str, Any]) -> str:
    path = PLACEHOLDER.sub(lambda m: str(values[m[1]]), entry.rule)
    if entry.query:
        path += "?" + PLACEHOLDER.sub(lambda m: str(values[m[1]]), entry.query)
    return path


def acceptance_form(tenant: str) -> dict[str, str]:
    return {
        "tenant_id": tenant,
        "company_name": "Matrix Corp",
        "domain": "matrix.example",
        "cloud": "public",
        "template_id": TEMPLATE_ID,
        "date_agreed": "2026-03-02",
        "first_name": "Mina",
        "last_name": "Matrix",
        "email": "mina.matrix@matrix.example",
        "phone": "02-1234-5678",
    }


def request_body(world: World, entry: Entry, actor: str, target: Target) -> dict[str, Any]:
    """Harmless but valid input for the entry's form or JSON body."""
    own = OWN_RESELLER[actor]
    if entry.body == "none":
        return {}
    if entry.body == "login":
        email = EMAILS.get(actor, EMAILS["reseller_submitter_a"])
        return {"data": {"email": email, "password": PASSWORD}}
    if entry.body == "password":
        return {
            "data": {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            }
        }
    if entry.body == "user":
        return {
            "data": {
                "email": f"new.user@{own}.test",
                "name": "New User",
                "organization": str(world.org_id(own)),
                "role": "reseller_submitter",
                "password": "a long passphrase for a new user",
            }
        }
    if entry.body == "acceptance":
        return {"data": acceptance_form(new_tenant())}
    if entry.body == "correction":
        tenant = target.record.tenant_id if target.record else new_tenant()
        return {"data": acceptance_form(tenant)}
    if entry.body == "withdraw":
        return {"data": {"reason": "Entered twice"}}
    if entry.body == "customer":
        form = acceptance_form(new_tenant())
        return {"data": {k: form[k] for k in ("tenant_id", "company_name", "domain", "cloud")}}
    if entry.body == "reason":
        return {"data": {"reason": "Please check the contact"}}
    if entry.body == "bulk":
        return {"data": {"record": [made.public_id for made in target.bulk]}}
    if entry.body == "api_submission":
        return {"json": submission()}
    if entry.body == "api_reason":
        return {"json": {"reason": "Please check the contact"}}
    if entry.body == "acceptance_request":
        # A customer of the actor's own reseller (Reseller A's for the provider).
        made = world.record(own)
        return {"data": {"selection": "tenants", "tenant_ids": made.tenant_id, "message": "Please"}}
    if entry.body == "export":
        return {"data": {"kind": "records", "format": "csv"}}
    if entry.body == "preferences":
        return {"data": {"locale": "ko", "time_zone": "Asia/Seoul"}}
    if entry.body == "language":
        return {"data": {"language": "ko", "next": "/account/password"}}
    if entry.body == "token_label":
        return {"data": {"label": "Matrix ERP"}}
    if entry.body == "evidence":
        return {
            "data": {"file": (io.BytesIO(EVIDENCE_PDF), "signed.pdf")},
            "content_type": "multipart/form-data",
        }
    if entry.body == "csv_upload":
        return {"data": {"file": (io.BytesIO(import_csv()), "matrix.csv")}}
    raise AssertionError(f"unknown body {entry.body!r} in {entry.id}")


def actor_client(
    app: Flask, world: World, sign_ins: SignIns, actor: str, *, api: bool
) -> tuple[FlaskClient, dict[str, str]]:
    """The actor's browser (web) or client and bearer header (API)."""
    if actor == "anonymous":
        return app.test_client(), {}
    email = EMAILS[actor]
    if actor == "disabled":
        # A session or token that worked, then the account is disabled: it must stop at once.
        world.set_user_active(email, True)
        if api:
            headers = {"Authorization": f"Bearer {world.token(email)}"}
            client = app.test_client()
            assert client.get("/api/v1/acceptances", headers=headers).status_code == 200
        else:
            client, headers = sign_ins.client(app, email), {}
            assert client.get("/account/password").status_code == 200
        world.set_user_active(email, False)
        return client, headers
    if api:
        return app.test_client(), {"Authorization": f"Bearer {world.token(email)}"}
    return sign_ins.client(app, email), {}


def probe(app: Flask, world: World, actor: str) -> dict[str, Any]:
    """The counts and secrets the effects change."""
    org = world.org_id(OWN_RESELLER[actor])
    user = world.user_ids.get(EMAILS.get(actor, ""), 0)
    return {
        "records": scalar(
            app, "SELECT count(*) FROM acceptance_record WHERE reseller_id = :o", o=org
        ),
        "links": scalar(
            app, "SELECT count(*) FROM customer_reseller WHERE reseller_id = :o", o=org
        ),
        "users": scalar(app, "SELECT count(*) FROM user_account WHERE organization_id = :o", o=org),
        "password": scalar(app, "SELECT password_hash FROM user_account WHERE id = :u", u=user),
        "session": scalar(app, "SELECT session_token FROM user_account WHERE id = :u", u=user),
        "requests": scalar(app, "SELECT count(*) FROM acceptance_request"),
        "locale": scalar(app, "SELECT locale FROM user_account WHERE id = :u", u=user),
        "imports": scalar(app, "SELECT count(*) FROM import_job WHERE reseller_id = :o", o=org),
        "audits": scalar(app, "SELECT count(*) FROM audit_event"),
        "tokens": scalar(app, "SELECT count(*) FROM api_token WHERE user_id = :u", u=user),
    }


def where(response: TestResponse) -> tuple[str, dict[str, list[str]]]:
    location = urlsplit(response.headers.get("Location", ""))
    return location.path, parse_qs(location.query)


def check_outcome(response: TestResponse, entry: Entry, actor: str, outcome: str) -> None:
    status = response.status_code
    shown = response.get_data(as_text=True)[:300]
    if outcome == "allow":
        assert status == entry.allow, shown
    elif outcome == "home":
        area = "provider" if actor in PROVIDER_ACTORS else "reseller"
        assert (status, where(response)[0]) == (302, HOME[area]), shown
    elif outcome == "login":
        path, query = where(response)
        assert (status, path) == (302, "/login"), shown
        assert "next" in query
    else:
        assert status == int(outcome), shown
        if entry.api:
            assert set(response.get_json()) == {"error"}


def check_effect(
    app: Flask,
    world: World,
    entry: Entry,
    target: Target,
    client: FlaskClient,
    before: dict[str, Any],
    after: dict[str, Any],
    enqueued: list[int],
) -> None:
    effect = entry.effect
    if effect.startswith("record:"):
        assert target.record is not None
        status = effect.removeprefix("record:")
        assert world.record_status(target.record.id) == status
        assert enqueued == ([target.record.id] if status == RecordStatus.APPROVED else [])
    elif effect == "records:approved":
        assert [world.record_status(m.id) for m in target.bulk] == ["approved"] * len(target.bulk)
        assert sorted(enqueued) == sorted(m.id for m in target.bulk)
    elif effect == "new_record":
        assert after["records"] == before["records"] + 1
    elif effect == "new_customer":
        assert after["links"] == before["links"] + 1
    elif effect == "new_user":
        assert after["users"] == before["users"] + 1
    elif effect == "new_import":
        assert after["imports"] == before["imports"] + 1
    elif effect == "new_request":
        assert after["requests"] == before["requests"] + 1
    elif effect == "password_changed":
        assert after["password"] != before["password"]
        assert client.get("/account/password").status_code == 200  # this session continues
    elif effect == "signed_out":
        assert after["session"] != before["session"]
        assert where(client.get("/account/password"))[0] == "/login"
    elif effect == "export_audited":
        # The file came, and the audit trail says who took it (nothing else changed).
        assert after["audits"] == before["audits"] + 1
        assert after["records"] == before["records"]
    elif effect == "preferences_saved":
        assert (before["locale"], after["locale"]) == (None, "ko")
    elif effect == "language_switched":
        # Remembered in a cookie for everyone, and on the account of a signed-in user.
        cookie = client.get_cookie("lang")
        assert cookie is not None
        assert cookie.value == "ko"
        assert after["locale"] in (before["locale"], "ko")
    elif effect in ("new_evidence", "evidence_removed"):
        assert target.record is not None
        files = "SELECT count(*) FROM evidence_file WHERE record_id = :r AND removed_at IS NULL"
        assert scalar(app, files, r=target.record.id) == (1 if effect == "new_evidence" else 0)
    elif effect == "signed_in":
        assert where(client.get("/"))[0] == HOME["reseller"]
    elif effect == "confirmation:superseded":
        assert target.record is not None
        state = scalar(
            app,
            "SELECT state FROM confirmation WHERE id = :c",
            c=target.record.confirmation_id,
        )
        assert state == "superseded"
    elif effect == "user:active" or effect == "user:inactive":
        active = scalar(app, "SELECT active FROM user_account WHERE id = :u", u=target.user_id)
        assert bool(active) == (effect == "user:active")
    elif effect == "new_token":
        assert after["tokens"] == before["tokens"] + 1
    elif effect == "token:revoked":
        revoked = scalar(app, "SELECT revoked_at FROM api_token WHERE id = :t", t=target.token_id)
        assert revoked is not None
    else:
        raise AssertionError(f"unknown effect {effect!r} in {entry.id}")


# --- the generated tests -----------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "actor", "ownership"), matrix_cases())
def test_access(
    app: Flask,
    sign_ins: SignIns,
    enqueued: list[int],
    entry: Entry,
    actor: str,
    ownership: str,
) -> None:
    world = World(app)
    target = prepare(world, entry, actor, ownership)
    client, headers = actor_client(app, world, sign_ins, actor, api=entry.api)
    url = url_for_case(entry, target.values)
    kwargs = request_body(world, entry, actor, target)
    outcome = entry.outcome(actor, ownership)
    rows, counts = snapshot(app, strict=False), probe(app, world, actor)

    response = client.open(url, method=entry.method, headers=headers, **kwargs)

    check_outcome(response, entry, actor, outcome)
    if outcome == "allow" and entry.effect != "none":
        check_effect(app, world, entry, target, client, counts, probe(app, world, actor), enqueued)
    else:
        # Refused (or only read): nothing changed, nothing was sent to Partner Center.
        assert changed_tables(rows, snapshot(app, strict=False)) == []
        assert enqueued == []


@pytest.mark.parametrize(("entry", "actor"), same_answer_cases())
def test_another_resellers_object_answers_exactly_like_a_missing_one(
    app: Flask, sign_ins: SignIns, enqueued: list[int], entry: Entry, actor: str
) -> None:
    world = World(app)
    other = prepare(world, entry, actor, "other")
    missing = prepare(world, entry, actor, "missing")
    client, headers = actor_client(app, world, sign_ins, actor, api=entry.api)
    rows = snapshot(app, strict=False)
    answers = []
    for target in (other, missing):
        response = client.open(
            url_for_case(entry, target.values),
            method=entry.method,
            headers=headers,
            **request_body(world, entry, actor, target),
        )
        answers.append(
            (response.status_code, response.content_type, normalized(response.get_data()))
        )
    assert answers[0] == answers[1]
    assert changed_tables(rows, snapshot(app, strict=False)) == []
    assert enqueued == []


# --- lists, counts, searches, exports ------------------------------------------------------------

SHARED_TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@dataclass
class Mixed:
    """Both resellers' records in several states, one customer served by both."""

    a: list[Made]
    b: list[Made]
    a_shared: Made
    b_shared: Made

    @property
    def b_markers(self) -> list[str]:
        """What must never reach a Reseller A user: B's ids, tenants, contacts and names."""
        values = ["Only B Corp", "Shared as B"]
        for made in self.b:
            values += [made.public_id, *made.contact.values()]
            if made.tenant_id != SHARED_TENANT:
                values.append(made.tenant_id)
        return values


@pytest.fixture
def mixed(app: Flask) -> Mixed:
    world = World(app)
    a = [
        world.record("a", RecordStatus.SUBMITTED, company="Only A Corp"),
        world.record("a", RecordStatus.RETURNED, company="Only A Corp"),
    ]
    a_shared = world.record("a", tenant=SHARED_TENANT, company="Shared as A")
    b = [
        world.record("b", status, company="Only B Corp", first="Boris", last="Badger")
        for status in (
            RecordStatus.SUBMITTED,
            RecordStatus.SUBMITTED,
            RecordStatus.REJECTED,
            RecordStatus.FAILED,
            RecordStatus.APPROVED,
        )
    ]
    b_shared = world.record(
        "b", tenant=SHARED_TENANT, company="Shared as B", first="Bella", email="bella@b.example"
    )
    return Mixed(a=[*a, a_shared], b=[*b, b_shared], a_shared=a_shared, b_shared=b_shared)


def text(response: TestResponse) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return html.unescape(response.get_data(as_text=True))


def leaks(pages: dict[str, str], markers: list[str]) -> dict[str, list[str]]:
    found = {url: [m for m in markers if m in page] for url, page in pages.items()}
    return {url: values for url, values in found.items() if values}


@pytest.mark.parametrize("actor", ["reseller_submitter_a", "reseller_admin_a"])
def test_reseller_lists_counts_searches_and_exports_show_only_its_own_rows(
    app: Flask, sign_ins: SignIns, mixed: Mixed, actor: str
) -> None:
    world = World(app)
    browser = sign_ins.client(app, EMAILS[actor])
    shared = mixed.a_shared
    urls = [
        "/reseller/acceptances",
        *(f"/reseller/acceptances?status={s.value}" for s in RecordStatus),
        "/reseller/customers",
        f"/reseller/customers/{shared.customer_id}",
        f"/reseller/acceptances/{shared.public_id}",
        f"/reseller/acceptances/new?customer={shared.customer_id}",
        "/reseller/dashboard",
        "/reseller/search?q=Corp",
        "/reseller/search?q=Shared",
        "/reseller/search?q=customer-",
        "/reseller/customers?q=Shared",
        "/reseller/export",
    ]
    if actor == "reseller_admin_a":
        urls.append("/admin/users")
    pages = {url: text(browser.get(url)) for url in urls}
    for kind in ("records", "confirmations"):
        for fmt in ("csv", "json"):
            body = {"kind": kind, "format": fmt}
            pages[f"POST /reseller/export {body}"] = text(
                browser.post("/reseller/export", data=body)
            )

    api = app.test_client()
    bearer = {"Authorization": f"Bearer {world.token(EMAILS[actor])}"}
    b_tenant = mixed.b[0].tenant_id
    api_urls = [
        "/api/v1/acceptances",
        *(f"/api/v1/acceptances?status={s.value}" for s in RecordStatus),
        f"/api/v1/acceptances?customerTenantId={b_tenant}",
        f"/api/v1/acceptances?customerTenantId={SHARED_TENANT}",
        f"/api/v1/acceptances?customerTenantId={b_tenant.upper()}&status=submitted",
        f"/api/v1/acceptances/{shared.public_id}",
    ]
    answers = {url: api.get(url, headers=bearer) for url in api_urls}
    pages.update({url: text(response) for url, response in answers.items()})

    assert leaks(pages, [*mixed.b_markers, "@b.test", "Reseller B"]) == {}
    if actor == "reseller_admin_a":
        # The users page lists A's own staff only.
        assert leaks({"/admin/users": pages["/admin/users"]}, ["@provider.test"]) == {}
        assert "submitter@a.test" in pages["/admin/users"]
    # A's own rows are there: the check above is not vacuous.
    everything = "\n".join(pages.values())
    assert all(made.public_id in everything for made in mixed.a)
    assert "Shared as A" in everything

    # Searching by the other reseller's tenant finds nothing; by a shared one only A's record.
    assert answers[api_urls[-4]].get_json() == {"items": [], "nextCursor": None}
    assert answers[api_urls[-2]].get_json() == {"items": [], "nextCursor": None}
    assert [i["id"] for i in answers[api_urls[-3]].get_json()["items"]] == [shared.public_id]
    listed = {i["id"] for i in answers["/api/v1/acceptances"].get_json()["items"]}
    assert listed == {made.public_id for made in mixed.a}

    # The status chips count A's records only (B's rejected, failed, approved ones do not show).
    chips = dict(
        re.findall(r">\s*([A-Z][\w ]*?) <span class=\"count\">(\d+)</span>", pages[urls[0]])
    )
    assert chips == {"Submitted": "2", "Returned": "1"}


@pytest.mark.parametrize("actor", ["reseller_submitter_a", "reseller_admin_a"])
def test_reseller_is_refused_the_queue_the_audit_trail_and_its_export(
    app: Flask, sign_ins: SignIns, mixed: Mixed, actor: str
) -> None:
    browser = sign_ins.client(app, EMAILS[actor])
    for url in (
        "/review/",
        f"/review/?tenant={mixed.b[0].tenant_id}&status=submitted",
        "/review/forwarding",
        "/admin/audit",
        f"/admin/audit?subject={mixed.b[0].public_id}",
        "/admin/audit.csv",
        f"/admin/audit.csv?subject={mixed.b[0].public_id}",
        "/review/dashboard",
        "/review/customers",
        "/review/search?q=Corp",
        "/review/export",
    ):
        response = browser.get(url)
        assert response.status_code == 403, url
        assert leaks({url: text_of(response)}, mixed.b_markers) == {}


def text_of(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("actor", ["provider_reviewer", "provider_admin"])
def test_provider_sees_both_resellers(
    app: Flask, sign_ins: SignIns, mixed: Mixed, actor: str
) -> None:
    world = World(app)
    browser = sign_ins.client(app, EMAILS[actor])
    queue = text(browser.get("/review/?status=submitted"))
    timeline = text(browser.get(f"/review/customers/{mixed.a_shared.customer_id}"))
    audit = text(browser.get("/admin/audit"))
    export = text(browser.get("/admin/audit.csv"))
    bearer = {"Authorization": f"Bearer {world.token(EMAILS[actor])}"}
    listed = app.test_client().get("/api/v1/acceptances?limit=200", headers=bearer).get_json()

    submitted = [m for m in (*mixed.a, *mixed.b) if world.record_status(m.id) == "submitted"]
    assert all(m.public_id in queue for m in submitted)
    assert mixed.a_shared.public_id in timeline
    assert mixed.b_shared.public_id in timeline
    assert all(m.public_id in audit and m.public_id in export for m in (*mixed.a, *mixed.b))
    assert {i["id"] for i in listed["items"]} >= {m.public_id for m in (*mixed.a, *mixed.b)}


def test_a_reseller_admin_cannot_create_users_elsewhere(
    app: Flask, sign_ins: SignIns, mixed: Mixed
) -> None:
    world = World(app)
    browser = sign_ins.client(app, EMAILS["reseller_admin_a"])
    rows = snapshot(app, strict=False)
    for org, role in (("b", "reseller_admin"), ("provider", "provider_admin")):
        response = browser.post(
            "/admin/users",
            data={
                "email": f"mole@{org}.test",
                "name": "Mole",
                "organization": str(world.org_id(org)),
                "role": role,
                "password": "a long passphrase for a mole",
            },
        )
        assert response.status_code in (404, 422)
    # A reseller admin cannot make a provider role in its own organization either.
    response = browser.post(
        "/admin/users",
        data={
            "email": "climber@a.test",
            "name": "Climber",
            "organization": str(world.org_id("a")),
            "role": "provider_admin",
            "password": "a long passphrase for a climber",
        },
    )
    assert response.status_code == 422
    assert changed_tables(rows, snapshot(app, strict=False)) == []


def test_a_disabled_users_session_is_refused_even_with_its_session_token_unchanged(
    app: Flask, sign_ins: SignIns
) -> None:
    # The matrix disables through the service, which also rotates the session token; an account
    # switched off any other way (an operator, a migration) must stop working just the same.
    world = World(app)
    email = EMAILS["disabled"]
    world.set_user_active(email, True)
    browser = sign_ins.client(app, email)
    assert browser.get("/account/password").status_code == 200
    token = scalar(app, "SELECT session_token FROM user_account WHERE email = :e", e=email)
    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE user_account SET active = 0 WHERE email = ?", (email,))
    assert scalar(app, "SELECT session_token FROM user_account WHERE email = :e", e=email) == token
    for url in ("/", "/account/password", "/reseller/acceptances", "/reseller/customers"):
        assert where(browser.get(url))[0] == "/login", url


def test_a_record_covered_by_another_resellers_confirmation_shows_nothing_of_it(
    app: Flask, sign_ins: SignIns
) -> None:
    # B's acceptance of a shared customer was confirmed first; A's later one is settled as a
    # duplicate of it. A learns that the customer is confirmed, never B's contact or record.
    world = World(app)
    theirs = world.record(
        "b", RecordStatus.APPROVED, tenant=SHARED_TENANT, company="Shared as B", first="Bella"
    )
    ours = world.record("a", RecordStatus.APPROVED, tenant=SHARED_TENANT, company="Shared as A")
    with app.app_context():
        session = get_session()
        b_record = session.get_one(AcceptanceRecord, theirs.id)
        a_record = session.get_one(AcceptanceRecord, ours.id)
        entry = Confirmation(
            customer_id=b_record.customer_id,
            agreement_type=b_record.agreement_type,
            template_id=b_record.template_id,
            date_agreed=b_record.date_agreed,
            contact_first_name=b_record.contact_first_name,
            contact_last_name=b_record.contact_last_name,
            contact_email=b_record.contact_email,
            contact_phone=b_record.contact_phone,
            source=ConfirmationSource.SENT.value,
            record_id=b_record.id,
            approved_by_id=b_record.approved_by_id,
        )
        session.add(entry)
        session.flush()
        now = utcnow()
        reason = covered_reason(entry, ours=True)
        settle(
            session,
            b_record,
            status=RecordStatus.CONFIRMED,
            reason=reason,
            now=now,
            confirmation=entry,
        )
        reason = covered_reason(entry, ours=False)
        settle(
            session,
            a_record,
            status=RecordStatus.DUPLICATE,
            reason=reason,
            now=now,
            confirmation=entry,
        )
        session.commit()

    browser = sign_ins.client(app, EMAILS["reseller_submitter_a"])
    pages = {
        url: text(browser.get(url))
        for url in (
            "/reseller/acceptances",
            "/reseller/acceptances?status=duplicate",
            f"/reseller/acceptances/{ours.public_id}",
            f"/reseller/customers/{ours.customer_id}",
            "/reseller/customers",
        )
    }
    bearer = {"Authorization": f"Bearer {world.token(EMAILS['reseller_submitter_a'])}"}
    api = app.test_client()
    for url in (f"/api/v1/acceptances/{ours.public_id}", "/api/v1/acceptances?status=duplicate"):
        pages[url] = text(api.get(url, headers=bearer))
    record = api.get(f"/api/v1/acceptances/{ours.public_id}", headers=bearer).get_json()
    assert record["status"] == "duplicate"
    assert record["upstream"]["confirmation"]["ownRecord"] is False
    markers = [theirs.public_id, *theirs.contact.values(), "Shared as B", "Bella", "@b.test"]
    assert leaks(pages, markers) == {}


def test_an_idempotency_key_replays_only_its_own_users_response(
    app: Flask,
) -> None:
    # The same key and body from another reseller is a new request, not A's stored answer.
    world = World(app)
    body = submission(**{"customer.tenantId": SHARED_TENANT})
    key = {"Idempotency-Key": "the-same-key-for-everyone"}
    api = app.test_client()
    a = {"Authorization": f"Bearer {world.token(EMAILS['reseller_submitter_a'])}", **key}
    b = {"Authorization": f"Bearer {world.token(EMAILS['reseller_submitter_b'])}", **key}
    first = api.post("/api/v1/acceptances", json=body, headers=a)
    again = api.post("/api/v1/acceptances", json=body, headers=b)
    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]
    with_a = api.get(f"/api/v1/acceptances/{again.get_json()['id']}", headers=a)
    assert with_a.status_code == 404
