"""Bad input (RELIABILITY-SECURITY.md 7.4): generated submissions over every form and API field.

The contract: whatever a reseller sends, the answer is a success (API 201, form 302) or a
per-field refusal (422), never a server error, and a refusal writes nothing (ASVS 2.3.3).
Unknown fields such as `status` or `resellerId` are ignored (15.3.3) and a body over
MAX_CONTENT_LENGTH is answered 413.

Generated submissions per phase (derandomized, so CI sees the same examples every run):

- the input model, `parse_submission` 5,200 and `parse_customer` 1,000;
- `POST /api/v1/acceptances` on SQLite 2,100;
- `POST /reseller/acceptances/new` 1,100 and `POST /reseller/customers/new` 800;
- `POST /api/v1/acceptances` on PostgreSQL 300 (skipped without PostgreSQL outside CI).

Every phase counts the examples it really ran; the last test of the module checks that they
add up to at least 10,000 with no server error, so run the whole module to see the total.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers
import pytest
import sqlalchemy as sa
from email_validator import validate_email
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select
from werkzeug.test import encode_multipart

from app.db import get_session, new_session
from app.models import (
    AcceptanceRecord,
    AuditEvent,
    Customer,
    CustomerReseller,
    IdempotencyKey,
    Organization,
)
from app.models.acceptance_input import (
    EARLIEST_DATE_AGREED,
    AcceptanceSubmission,
    CustomerInput,
    latest_allowed_date,
    parse_customer,
    parse_submission,
)
from app.models.customer import Cloud
from app.services.acceptance import contact_flags
from app.services.customers import register_customer
from app.services.errors import ValidationFailed
from app.services.users import create_api_token
from tests.conftest import AppFactory, login
from tests.support import load_users

CURRENT_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"
MAX_CONTENT_LENGTH = 5 * 1024 * 1024
PHONE_REGION = "KR"  # the app's default_phone_region, which the views pass to the model

# Quotas: examples each phase runs; the non-PostgreSQL phases alone reach 10,200.
QUOTA = {
    "parse_submission": 5_200,
    "parse_customer": 1_000,
    "api_sqlite": 2_100,
    "form_acceptance": 1_100,
    "form_customer": 800,
    "api_postgresql": 300,
}
REQUIRED_PHASES = tuple(name for name in QUOTA if name != "api_postgresql")
TOTAL_NEEDED = 10_000


def campaign(max_examples: int) -> Any:
    """Hypothesis settings shared by the phases: reproducible, no deadline, no example store."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --- the tally: examples really run, and the server errors among them ---------------------


@dataclass
class Phase:
    """What one phase ran."""

    examples: int = 0
    server_errors: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # "201", "422", "valid", ...


TALLY: dict[str, Phase] = {}


def server_error(tally: Phase, what: str, example: Any) -> str:
    """Note a server error (kept for the summary) and return the message to fail with."""
    shown = repr(example)
    message = f"{what} for {shown[:600]}{'...' if len(shown) > 600 else ''}"
    tally.server_errors.append(message)
    return message


# --- field values --------------------------------------------------------------------------


class _Missing:
    """A key left out of the body or the form."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


PAD = st.sampled_from(["", "", "", " ", "  ", "\t", "\n", "\u00a0", "\u3000"])


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Values with whitespace a person pastes around them (the models strip it)."""
    return st.tuples(PAD, values, PAD).map("".join)


XSS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "'><iframe src=javascript:alert(1)>",
)
INJECTION = (
    "{{7*7}}",
    "{% print 7*7 %}",
    "${7*7}",
    "#{7*7}",
    "'; DROP TABLE customer; --",
    "1' OR '1'='1",
    '=HYPERLINK("http://evil.example","click")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "%00",
    "%s%s%s%n",
    "../../etc/passwd",
    "null",
    "undefined",
    "true",
    "0",
    "-1",
    "NaN",
)
UNICODE = (
    "Zoë",
    "Renée O'Brien",
    "株式会社コントソ",
    "주식회사 콘토소",
    "김민지",
    "محمد",
    "Ω≈ç√∫",
    "😀",
    "👩\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈",
    "e\u0301",  # decomposed: NFC makes it one character
    "ﬁ",
    "Ⅻ",
    "ß",
    "İstanbul",
    "\U0001d54f",
)
CONTROL = (
    "\x00",
    "a\x00b",
    "\x00" * 10,
    "Minji\x00",
    "line1\r\nline2",
    "Kim\r\nX-Injected: yes",
    "\r\n",
    "\x1b[31mred",
    "\x7f",
    "\x08",
    "\u202eevil\u202c",  # right-to-left override
    "a\u200db",  # zero-width joiner
    "\u200b",
    "\ufeffBOM",
    "\ufffe",
    "\U000e0041",  # tag character
)
SURROGATES = ("\ud800", "a\udfffb", "\udbff\udc00x")  # only JSON can carry lone surrogates
LENGTH_EDGES = (0, 1, 99, 100, 101, 199, 200, 201, 253, 254, 255, 256, 1_000, 10_000)
HUGE = st.builds(
    lambda unit, n: unit * n,
    st.sampled_from(["x", "가", "😀", "\x00", "<", "e\u0301", " "]),
    st.sampled_from(LENGTH_EDGES),
)


def nasty_text(*, json_only: bool) -> st.SearchStrategy[str]:
    """Strings from 7.4's list, random text, and those mixed together."""
    fixed = XSS + INJECTION + UNICODE + CONTROL + (SURROGATES if json_only else ())
    pieces = st.sampled_from(fixed)
    return st.one_of(
        pieces,
        HUGE,
        st.text(max_size=40),
        st.tuples(st.text(max_size=6), pieces, st.text(max_size=6)).map("".join),
    )


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**40, 1772323200]),
    st.floats(),
)
WRONG_TYPES = st.one_of(
    JSON_SCALARS,
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=6), JSON_SCALARS, max_size=3),
    st.recursive(
        JSON_SCALARS | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=8,
    ),
)


@dataclass(frozen=True)
class FieldValues:
    """One field's generators: mostly-valid values and bad strings (forms can send only text)."""

    valid: st.SearchStrategy[Any]
    bad: st.SearchStrategy[str]

    def for_json(self, *, bad: bool) -> st.SearchStrategy[Any]:
        """Bad means a bad string, a value of the wrong JSON type, or a missing key."""
        if not bad:
            return self.valid
        return st.one_of(self.bad, nasty_text(json_only=True), WRONG_TYPES, st.just(MISSING))

    def for_form(self, *, bad: bool) -> st.SearchStrategy[Any]:
        """Form values are text (or a repeated field, or a missing one)."""
        if not bad:
            return self.valid.map(lambda v: "" if v is None else v)
        return st.one_of(
            self.bad,
            nasty_text(json_only=False),
            st.just(MISSING),
            st.lists(
                self.bad | self.valid.filter(lambda v: isinstance(v, str)), min_size=2, max_size=3
            ),
        )


GUID_FORMS: tuple[Callable[[str], str], ...] = (
    str,
    str.upper,
    lambda s: "{" + s + "}",
    lambda s: "{" + s.upper() + "}",
    lambda s: s.replace("-", ""),
    lambda s: f"  {s}\t",
)


def guids(known: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """GUIDs as people paste them: braces, upper case, no hyphens, padding."""
    base = (st.uuids().map(str) | st.sampled_from(known)) if known else st.uuids().map(str)
    return st.builds(lambda form, value: form(value), st.sampled_from(GUID_FORMS), base)


BAD_GUIDS = st.one_of(
    st.sampled_from(
        [
            "not-a-guid",
            "0a1b2c3d-4e5f-6789-abcd-ef012345678",  # 35 characters
            "0a1b2c3d-4e5f-6789-abcd-ef01234567890",  # 37 characters
            "0a1b2c3d-4e5f-6789-abcd-ef012345678g",
            "0a1b2c3d_4e5f_6789_abcd_ef0123456789",
            "urn:uuid:0a1b2c3d-4e5f-6789-abcd-ef0123456789",
            "0a1b2c3d-4e5f-6789-abcd-ef0123456789\x00",
            "\x000a1b2c3d-4e5f-6789-abcd-ef0123456789",
            "０ａ１ｂ２ｃ３ｄ-4e5f-6789-abcd-ef0123456789",
            "{0a1b2c3d-4e5f-6789-abcd-ef0123456789",
            "(0a1b2c3d-4e5f-6789-abcd-ef0123456789)",
            "0x0a1b2c3d4e5f6789abcdef0123456789",
            "00000000-0000-0000-0000-000000000000-00",
            "contoso.onmicrosoft.com",
        ]
    ),
    st.text(alphabet="0123456789abcdefABCDEF-{} ", max_size=40),
)

# Customers registered before the examples run (see `prepare`): a public one of reseller A, a
# national-cloud one of reseller A, and one only reseller B serves ("another tenant's customer").
KNOWN_PUBLIC_A = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
KNOWN_USGOV_A = "5b9c0e2a-6d7e-4f80-9a1b-2c3d4e5f6a7b"
KNOWN_B_ONLY = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
KNOWN_TENANTS = (KNOWN_PUBLIC_A, KNOWN_USGOV_A, KNOWN_B_ONLY)

NAME_VALID = st.one_of(
    st.sampled_from(["Minji", "Kim", "O'Brien", "Jean-Luc", "Zoë", "김", "山田", "Ng"]),
    st.sampled_from(UNICODE),
    padded(st.sampled_from(["Contoso", "Minji Kim"])),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("C", "Z")),
        min_size=1,
        max_size=60,
    ),
)
COMPANY_VALID = st.one_of(
    st.sampled_from(
        [
            "Contoso Korea",
            "주식회사 콘토소",
            "株式会社コントソ",
            'Contoso & Sons <Ltd> "Quoted"',
            "Fabrikam, Inc.",
            "x" * 200,
        ]
    ),
    padded(st.sampled_from(XSS + INJECTION[:4])),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("C",)), max_size=80),
)
DOMAIN_VALID = st.one_of(
    st.sampled_from(
        [
            "contoso.com",
            "contoso.onmicrosoft.com",
            "CONTOSO.COM",
            "contoso.com.",
            "bücher.example",
            "müller.de",
            "例子.广告",
            "xn--bcher-kva.example",
            "a" * 63 + ".com",
            "",
        ]
    ),
    st.just(None),
    st.just(MISSING),
    padded(st.just("fabrikam.co.kr")),
)
DOMAIN_BAD = st.sampled_from(
    [
        "-bad.com",
        "bad-.com",
        "a..b",
        "a" * 64 + ".com",
        "x." * 130 + "com",
        "localhost",
        "192.168.0.1",
        "http://contoso.com",
        "contoso.com/path",
        "contoso .com",
        "*.contoso.com",
        "xn--.com",
        "\u202ecom.evil",
        "contoso.com\x00",
        "contoso.c",
        "é" * 10_000,
    ]
)
CLOUD_VALID = st.one_of(
    st.just("public"),
    st.sampled_from(["PUBLIC", " Public ", "", "usgov", "germany", "china"]),
    st.just(MISSING),
    st.just(None),
)
CLOUD_BAD = st.sampled_from(["azure", "Public Cloud", "public\x00", "gov", "usgov ", "中国"])
AGREEMENT_VALID = st.sampled_from([MISSING, None, "", "MicrosoftCustomerAgreement"])
AGREEMENT_BAD = st.sampled_from(
    [
        "MicrosoftCloudAgreement",
        "microsoftcustomeragreement",
        " MicrosoftCustomerAgreement",
        "MicrosoftCustomerAgreement\x00",
        "MicrosoftPartnerAgreement",
    ]
)
TEMPLATE_VALID = st.one_of(
    st.sampled_from([MISSING, None, "", CURRENT_TEMPLATE]),
    st.builds(lambda form: form(CURRENT_TEMPLATE), st.sampled_from(GUID_FORMS)),
)
TEMPLATE_BAD = st.one_of(BAD_GUIDS, st.uuids().map(str))  # another GUID: not the current one


def _today() -> date:
    return datetime.now(UTC).date()


DATE_VALID = padded(
    st.dates(min_value=EARLIEST_DATE_AGREED, max_value=_today() - timedelta(days=1)).map(
        date.isoformat
    )
)
DATE_BAD = st.one_of(
    st.sampled_from(
        [
            "2025-02-30",
            "2025-13-01",
            "2025-00-10",
            "0001-01-01",
            "2017-12-31",
            "9999-12-31",
            "2999-01-01",
            (_today() + timedelta(days=2)).isoformat(),
            "31/03/2026",
            "03/31/2026",
            "2026/03/31",
            "March 31, 2026",
            "2026-3-1",
            "2026-03-31T10:00:00",
            "2026-03-31T10:00:00+09:00",
            "2026-03-31Z",
            "2026-03-31 00:00",
            "2026-03-31+09:00",
            "２０２６-０３-３１",
            "2026-03-31\x00",
            "today",
            "-2026-03-31",
            "+2026-03-31",
            "10000-01-01",
        ]
    ),
    st.dates().map(date.isoformat),
)
EMAIL_VALID = st.one_of(
    st.sampled_from(
        [
            "minji.kim@contoso.example",
            "Minji.Kim@CONTOSO.EXAMPLE",
            "user+tag@contoso.com",
            "user@bücher.example",
            "用户@例子.广告",
            "o'brien@contoso.com",
            "x@" + "a" * 63 + ".com",
        ]
    ),
    padded(st.just("padded@contoso.com")),
    st.emails(),
)
EMAIL_BAD = st.sampled_from(
    [
        "no-at-sign",
        "@contoso.com",
        "user@",
        "user@@contoso.com",
        '"quoted local"@contoso.com',
        '"a@b"@contoso.com',
        "user@contoso.com.",
        "user.@contoso.com",
        ".user@contoso.com",
        "a..b@contoso.com",
        "user@localhost",
        "user@[127.0.0.1]",
        "user@192.168.0.1",
        "a" * 65 + "@contoso.com",
        "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "com",
        "user@contoso.com\r\nBcc: victim@evil.example",
        "user@contoso.com\x00",
        "<script>alert(1)</script>@contoso.com",
        "user@xn--.com",
        "user@exa mple.com",
        "user@-contoso.com",
        "user@contoso.test",
        "user@contoso.local",
        "USER@CONTOSO.COM" * 20,
    ]
)
PHONE_VALID = st.one_of(
    st.sampled_from(
        [
            MISSING,
            None,
            "",
            "+82 2 1234 5678",
            "02-1234-5678",
            "010-1234-5678",
            "+1 650 253 0000",
            "+44 20 7946 0958",
            "tel:+82-2-1234-5678",
            "+82 (0)2 1234 5678",
            "＋８２ ２ １２３４ ５６７８",
        ]
    ),
    padded(st.just("+82 10 9876 5432")),
)
PHONE_BAD = st.one_of(
    st.sampled_from(
        [
            "12345",
            "abc",
            "+82 2 CALL NOW",
            "82+212345678",
            "++82212345678",
            "+",
            "1" * 30,
            "+" + "9" * 15,
            "+999999999999",
            "+0 123 456",
            "0",
            "+82 2 1234 5678 ext 99999999999",
            "1" * 300,
            "+82\x002 1234 5678",
            "+82 2 1234 5678\x00",
        ]
    ),
    st.text(alphabet="+0123456789 -()abcx", max_size=35),
)

CUSTOMER_FIELDS = {
    "tenantId": FieldValues(guids(KNOWN_TENANTS), BAD_GUIDS),
    "companyName": FieldValues(COMPANY_VALID, HUGE),
    "domain": FieldValues(DOMAIN_VALID, DOMAIN_BAD),
    "cloud": FieldValues(CLOUD_VALID, CLOUD_BAD),
}
TOP_FIELDS = {
    "agreementType": FieldValues(AGREEMENT_VALID, AGREEMENT_BAD),
    "templateId": FieldValues(TEMPLATE_VALID, TEMPLATE_BAD),
    "dateAgreed": FieldValues(DATE_VALID, DATE_BAD),
}
CONTACT_FIELDS = {
    "firstName": FieldValues(NAME_VALID, HUGE),
    "lastName": FieldValues(NAME_VALID, HUGE),
    "email": FieldValues(EMAIL_VALID, EMAIL_BAD),
    "phoneNumber": FieldValues(PHONE_VALID, PHONE_BAD),
}
BAD_CHOICES = (
    *(f"customer.{k}" for k in CUSTOMER_FIELDS),
    *TOP_FIELDS,
    *(f"contact.{k}" for k in CONTACT_FIELDS),
    "customer",
    "contact",
)
# Keys a client might try to set: status, ownership, review, identity, flags, provenance.
MASS_ASSIGNMENT_KEYS = (
    "status",
    "resellerId",
    "reseller_id",
    "approvedBy",
    "approvedById",
    "approved_by",
    "id",
    "flags",
    "source",
    "submittedById",
    "reviewedById",
    "statusReason",
    "version",
    "createdAt",
    "upstream",
    "history",
    "confirmationId",
    "__proto__",
    "constructor",
)
FIELD_NAMES = {
    *CUSTOMER_FIELDS,
    *TOP_FIELDS,
    *CONTACT_FIELDS,
    "customer",
    "contact",
    # populate_by_name: the snake_case names are fields too
    "tenant_id",
    "company_name",
    "agreement_type",
    "template_id",
    "date_agreed",
    "first_name",
    "last_name",
    "phone_number",
}
EXTRA_KEYS = st.one_of(
    st.sampled_from(MASS_ASSIGNMENT_KEYS),
    st.text(max_size=12).filter(lambda k: k not in FIELD_NAMES),
)
EXTRA_VALUES = st.one_of(
    st.sampled_from(["approved", "confirmed", "api", "import", "chosen-by-client", 1, 2, 3]),
    st.lists(st.sampled_from(["contact_at_reseller_domain", "duplicate"]), max_size=2),
    WRONG_TYPES,
)


def _fill(draw: st.DrawFn, fields: dict[str, FieldValues], bad: set[str], prefix: str) -> Any:
    values: dict[str, Any] = {}
    for key, spec in fields.items():
        value = draw(spec.for_json(bad=f"{prefix}{key}" in bad))
        if value is not MISSING:
            values[key] = value
    return values


@st.composite
def api_bodies(draw: st.DrawFn) -> Any:
    """A JSON body: mostly-valid fields with a few bad ones, wrong types, extra keys."""
    if draw(st.integers(0, 24)) == 0:
        return draw(st.one_of(WRONG_TYPES, nasty_text(json_only=True)))  # not an object at all
    bad = draw(st.sets(st.sampled_from(BAD_CHOICES), max_size=4))
    body: dict[str, Any] = {}
    customer = _fill(draw, CUSTOMER_FIELDS, bad, "customer.")
    if "customer" in bad:
        customer = draw(st.one_of(WRONG_TYPES, st.just(MISSING)))
    if customer is not MISSING:
        body["customer"] = customer
    body.update(_fill(draw, TOP_FIELDS, bad, ""))
    contact = _fill(draw, CONTACT_FIELDS, bad, "contact.")
    if "contact" in bad:
        contact = draw(st.one_of(WRONG_TYPES, st.just(MISSING)))
    if contact is not MISSING:
        body["contact"] = contact
    for target in (body, customer, contact):
        if isinstance(target, dict):
            target.update(draw(st.dictionaries(EXTRA_KEYS, EXTRA_VALUES, max_size=3)))
    return body


@st.composite
def customer_bodies(draw: st.DrawFn) -> Any:
    """A customer as the API shape gives it to `parse_customer`."""
    if draw(st.integers(0, 24)) == 0:
        return draw(st.one_of(WRONG_TYPES, nasty_text(json_only=True)))
    bad = draw(st.sets(st.sampled_from(BAD_CHOICES[:4]), max_size=3))
    body = _fill(draw, CUSTOMER_FIELDS, bad, "customer.")
    body.update(draw(st.dictionaries(EXTRA_KEYS, EXTRA_VALUES, max_size=3)))
    return body


# Form field name -> (API path, generators).
ACCEPTANCE_FORM = {
    "tenant_id": ("customer.tenantId", CUSTOMER_FIELDS["tenantId"]),
    "company_name": ("customer.companyName", CUSTOMER_FIELDS["companyName"]),
    "domain": ("customer.domain", CUSTOMER_FIELDS["domain"]),
    "cloud": ("customer.cloud", CUSTOMER_FIELDS["cloud"]),
    "template_id": ("templateId", TOP_FIELDS["templateId"]),
    "date_agreed": ("dateAgreed", TOP_FIELDS["dateAgreed"]),
    "first_name": ("contact.firstName", CONTACT_FIELDS["firstName"]),
    "last_name": ("contact.lastName", CONTACT_FIELDS["lastName"]),
    "email": ("contact.email", CONTACT_FIELDS["email"]),
    "phone": ("contact.phoneNumber", CONTACT_FIELDS["phoneNumber"]),
}
CUSTOMER_FORM = {
    name: ACCEPTANCE_FORM[name] for name in ("tenant_id", "company_name", "domain", "cloud")
}
FORM_EXTRA_KEYS = st.one_of(
    st.sampled_from(
        [
            "status",
            "reseller_id",
            "approved_by",
            "approved_by_id",
            "id",
            "flags",
            "source",
            "submitted_by_id",
            "organization_id",
            "customer_id",
        ]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_[]", min_size=1, max_size=10).filter(
        lambda k: k not in ACCEPTANCE_FORM and k != "csrf_token"
    ),
)
FORM_EXTRA_VALUES = st.sampled_from(["approved", "1", "2", "3", "api", "[]", "", "\x00"])


def form_data(fields: dict[str, tuple[str, FieldValues]]) -> st.SearchStrategy[dict[str, Any]]:
    """Form fields as a browser (or a script) posts them: text, repeated, missing, extra."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        bad = draw(st.sets(st.sampled_from(list(fields)), max_size=3))
        data: dict[str, Any] = {}
        for name, (_path, spec) in fields.items():
            value = draw(spec.for_form(bad=name in bad))
            if value is not MISSING:
                data[name] = value
        data.update(draw(st.dictionaries(FORM_EXTRA_KEYS, FORM_EXTRA_VALUES, max_size=3)))
        return data

    return build()


# --- checks shared by the phases -----------------------------------------------------------

GUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")
SERVICE_PATHS = {"customer.cloud", "templateId"}  # refusals that need the database


def has_control(text: str) -> bool:
    """Control or format characters, except the joiners that some scripts' names need."""
    return any(unicodedata.category(ch)[0] == "C" and ch not in "\u200c\u200d" for ch in text)


def assert_clean_text(value: str, raw: Any, max_length: int) -> None:
    """A name as the model keeps it: NFC, stripped, no control characters, not too long."""
    assert isinstance(raw, str)
    assert value == unicodedata.normalize("NFC", raw).strip()
    assert 1 <= len(value) <= max_length
    assert not has_control(value)


def assert_normalized_customer(customer: CustomerInput, raw: dict[str, Any]) -> None:
    """A customer that passed the model is stored in its canonical form."""
    assert GUID_RE.fullmatch(customer.tenant_id), customer.tenant_id
    hex_digits = re.sub(r"[^0-9a-fA-F]", "", raw["tenantId"])
    assert uuid.UUID(customer.tenant_id) == uuid.UUID(hex_digits)
    assert_clean_text(customer.company_name, raw["companyName"], 200)
    if customer.domain is not None:
        assert customer.domain.isascii()
        assert customer.domain == customer.domain.lower()
        assert len(customer.domain) <= 253
        assert not customer.domain.endswith(".")
    assert customer.cloud in set(Cloud)


def expected_email(raw: str) -> str:
    return validate_email(raw.strip(), check_deliverability=False).normalized


def assert_normalized_phone(stored: str | None, raw: Any) -> None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        assert stored is None
        return
    assert stored is not None
    assert E164_RE.fullmatch(stored), stored
    assert phonenumbers.is_valid_number(phonenumbers.parse(stored, None))


def assert_normalized_submission(parsed: AcceptanceSubmission, raw: dict[str, Any]) -> None:
    """Every field of a submission that passed the model is in its canonical form."""
    assert_normalized_customer(parsed.customer, raw["customer"])
    assert parsed.agreement_type.value == "MicrosoftCustomerAgreement"
    assert parsed.template_id is None or GUID_RE.fullmatch(parsed.template_id)
    assert EARLIEST_DATE_AGREED <= parsed.date_agreed <= latest_allowed_date()
    contact = raw["contact"]
    assert_clean_text(parsed.contact.first_name, contact["firstName"], 100)
    assert_clean_text(parsed.contact.last_name, contact["lastName"], 100)
    assert parsed.contact.email == expected_email(contact["email"])
    assert len(parsed.contact.email) <= 254
    assert not has_control(parsed.contact.email)
    assert_normalized_phone(parsed.contact.phone_number, contact.get("phoneNumber"))


def assert_field_errors(errors: Any) -> None:
    """`{"contact.email": ["message", ...], ...}`: field paths to non-empty lists of text."""
    assert isinstance(errors, dict)
    assert errors
    for path, messages in errors.items():
        assert isinstance(path, str)
        assert path
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(m, str) and m.strip() for m in messages)


# --- phases 1 and 2: the input model -------------------------------------------------------


@campaign(QUOTA["parse_submission"])
@given(body=api_bodies())
def test_parse_submission_refuses_or_normalizes_every_generated_body(body: Any) -> None:
    tally = TALLY.setdefault("parse_submission", Phase())
    tally.examples += 1
    try:
        parsed = parse_submission(body, phone_region=PHONE_REGION)
    except ValidationFailed as exc:
        tally.outcomes["refused"] += 1
        assert_field_errors(exc.errors)
        return
    except Exception as exc:  # anything else is a server error
        pytest.fail(server_error(tally, f"{type(exc).__name__}: {exc}", body))
    tally.outcomes["valid"] += 1
    assert isinstance(body, dict)
    assert_normalized_submission(parsed, body)


@campaign(QUOTA["parse_customer"])
@given(body=customer_bodies())
def test_parse_customer_refuses_or_normalizes_every_generated_body(body: Any) -> None:
    tally = TALLY.setdefault("parse_customer", Phase())
    tally.examples += 1
    try:
        parsed = parse_customer(body)
    except ValidationFailed as exc:
        tally.outcomes["refused"] += 1
        assert_field_errors(exc.errors)
        return
    except Exception as exc:  # anything else is a server error
        pytest.fail(server_error(tally, f"{type(exc).__name__}: {exc}", body))
    tally.outcomes["valid"] += 1
    assert isinstance(body, dict)
    assert_normalized_customer(parsed, body)


# --- the app under test: tokens, a signed-in browser, row counts ---------------------------


@dataclass
class Portal:
    """One app and database shared by all examples of a test (so checks compare deltas)."""

    app: Flask
    api: FlaskClient
    browser: FlaskClient
    headers: dict[str, str]
    reseller_id: int
    submitter_id: int
    other_reseller_id: int
    reviewer_id: int
    email_domains: list[str]
    key_counter: Iterator[int]


COUNTED = (AcceptanceRecord, Customer, CustomerReseller, AuditEvent, IdempotencyKey)


def counts(app: Flask) -> dict[str, int]:
    """Committed rows per table, read on a connection of its own (not the request's)."""
    query = sa.select(
        *(
            sa.select(sa.func.count()).select_from(m).scalar_subquery().label(m.__tablename__)
            for m in COUNTED
        )
    )
    with new_session(app.extensions["db_engine"], read_only=True) as session:
        row = session.execute(query).one()
    return dict(row._mapping)


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


def prepare(app: Flask) -> Portal:
    """Reseller A's API token and signed-in browser, and the customers the strategies reuse."""
    with app.app_context():
        db = get_session()
        users = load_users(db)
        _row, secret = create_api_token(db, actor=None, user=users.a_submitter, label="bad input")
        known = (
            (users.a_submitter, KNOWN_PUBLIC_A, "public"),
            (users.a_submitter, KNOWN_USGOV_A, "usgov"),
            (users.b_submitter, KNOWN_B_ONLY, "public"),
        )
        for who, tenant, cloud in known:
            register_customer(
                db,
                actor=who,
                data=parse_customer({"tenantId": tenant, "companyName": "Known", "cloud": cloud}),
            )
        reseller = db.get_one(Organization, users.a_submitter.organization_id)
        portal = Portal(
            app=app,
            api=app.test_client(),
            browser=app.test_client(),
            headers={"Authorization": f"Bearer {secret}"},
            reseller_id=users.a_submitter.organization_id,
            submitter_id=users.a_submitter.id or 0,
            other_reseller_id=users.b_submitter.organization_id,
            reviewer_id=users.reviewer.id or 0,
            email_domains=list(reseller.email_domains),
            key_counter=iter(range(1, 10**9)),
        )
        db.commit()
    login(portal.browser, "submitter@a.test")
    return portal


@pytest.fixture
def portal(app: Flask) -> Portal:
    """The portal on SQLite, with no app context held: each request has its own session."""
    return prepare(app)


def stored_record(
    app: Flask, public_id: str
) -> tuple[AcceptanceRecord, Customer, CustomerReseller]:
    """The record as committed, with its customer and the reseller's link to it."""
    with new_session(app.extensions["db_engine"], read_only=True) as session:
        record = session.exec(
            select(AcceptanceRecord).where(AcceptanceRecord.public_id == public_id)
        ).one()
        customer = session.get_one(Customer, record.customer_id)
        link = session.exec(
            select(CustomerReseller)
            .where(CustomerReseller.customer_id == customer.id)
            .where(CustomerReseller.reseller_id == record.reseller_id)
        ).one()
        session.expunge_all()
    return record, customer, link


def assert_stored_like_submitted(
    portal: Portal, public_id: str, raw: dict[str, Any], parsed: AcceptanceSubmission, source: str
) -> AcceptanceRecord:
    """The committed record is the reseller's, `submitted`, with normalized values."""
    record, customer, link = stored_record(portal.app, public_id)
    assert record.status == "submitted"
    assert record.reseller_id == portal.reseller_id
    assert record.submitted_by_id == portal.submitter_id
    assert record.approved_by_id is None
    assert record.reviewed_by_id is None
    assert record.source == source
    assert record.flags == contact_flags(
        Organization(name="A", kind="reseller", email_domains=portal.email_domains),
        record.contact_email,
    )
    assert record.template_id == CURRENT_TEMPLATE
    assert customer.tenant_id == parsed.customer.tenant_id
    assert GUID_RE.fullmatch(customer.tenant_id)
    assert link.company_name == parsed.customer.company_name
    assert record.date_agreed == parsed.date_agreed
    assert record.contact_first_name == parsed.contact.first_name
    assert record.contact_last_name == parsed.contact.last_name
    assert record.contact_email == expected_email(raw["contact"]["email"])
    assert_normalized_phone(record.contact_phone, raw["contact"].get("phoneNumber"))
    assert record.contact_phone == parsed.contact.phone_number
    return record


def local_parse(body: Any) -> tuple[AcceptanceSubmission | None, dict[str, list[str]] | None]:
    """What the input model makes of `body`: the submission, or its field errors."""
    try:
        return parse_submission(body, phone_region=PHONE_REGION), None
    except ValidationFailed as exc:
        return None, exc.errors


# --- phases 3 and 6: the JSON API ----------------------------------------------------------

IDEMPOTENCY_KEYS = st.one_of(
    st.just(None),
    st.just(None),
    st.sampled_from(["", "   ", "k" * 256, "ключ-é-ñ"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
)


def api_property(portal: Portal, tally: Phase, body: Any, key: str | None) -> None:
    """POST one generated body; check the answer and what was (not) written."""
    headers = dict(portal.headers)
    if key is not None and key.strip() and len(key.strip()) <= 255:
        key = f"{next(portal.key_counter)}-{key}"[:255]  # a fresh key: no replays here
    if key is not None:
        headers["Idempotency-Key"] = key
    wire = json.loads(json.dumps(body))  # what the server decodes (floats, escapes)
    parsed, errors = local_parse(wire)
    key_refused = key is not None and not (
        0 < len(key.strip()) <= 255 and key.strip().isprintable()
    )

    before = counts(portal.app)
    tally.examples += 1
    response = portal.api.post("/api/v1/acceptances", json=body, headers=headers)
    after = counts(portal.app)
    example = {"body": body, "Idempotency-Key": key}
    if response.status_code >= 500:
        pytest.fail(server_error(tally, f"HTTP {response.status_code}", example))
    tally.outcomes[str(response.status_code)] += 1
    assert response.status_code in (201, 422), (response.status_code, response.data[:300])
    assert response.mimetype == "application/json"
    answer = response.get_json()

    if response.status_code == 422:
        assert isinstance(answer.get("error"), str)
        assert_field_errors(answer.get("errors"))
        assert delta(before, after) == {}, "a refused submission wrote rows"
        if not isinstance(wire, dict):
            assert set(answer["errors"]) == {"body"}  # checked first, before the key
        elif key_refused:
            assert set(answer["errors"]) == {"Idempotency-Key"}
        elif errors is not None:
            assert answer["errors"] == errors  # the same messages as the input model
        else:
            assert set(answer["errors"]) <= SERVICE_PATHS, answer["errors"]
        return

    assert errors is None, f"the API accepted what the model refuses: {errors}"
    assert not key_refused
    assert parsed is not None
    assert isinstance(wire, dict)
    changed = delta(before, after)
    assert changed["acceptance_record"] == 1
    assert changed.get("customer", 0) in (0, 1)
    assert changed.get("customer_reseller", 0) in (0, 1)
    assert changed.get("idempotency_key", 0) == (1 if key is not None else 0)
    assert answer["status"] == "submitted"
    assert answer["flags"] == []
    assert answer["customer"]["tenantId"] == parsed.customer.tenant_id
    assert answer["contact"]["email"] == parsed.contact.email
    assert_normalized_submission(parsed, wire)
    assert_stored_like_submitted(portal, answer["id"], wire, parsed, "api")


@campaign(QUOTA["api_sqlite"])
@given(body=api_bodies(), key=IDEMPOTENCY_KEYS)
def test_api_answers_201_or_422_and_never_half_writes(
    portal: Portal, body: Any, key: str | None
) -> None:
    api_property(portal, TALLY.setdefault("api_sqlite", Phase()), body, key)


@pytest.fixture
def pg_portal(make_app: AppFactory, postgres_url: str) -> Portal:
    """The portal on PostgreSQL, which refuses NUL in text and enforces column lengths."""
    return prepare(make_app(postgres_url))


# NUL characters and huge strings in every field, PostgreSQL's two classic 500s.
PG_TEXT = st.one_of(
    HUGE,
    st.builds(
        lambda s, i: s[:i] + "\x00" + s[i:],
        st.sampled_from(["Minji", "+82 2 1234 5678", "a@b.co", CURRENT_TEMPLATE]),
        st.integers(0, 8),
    ),
    st.sampled_from(CONTROL),
)


@st.composite
def pg_bodies(draw: st.DrawFn) -> Any:
    """A generated body with one to three fields replaced by NUL-bearing or huge strings."""
    body = draw(api_bodies())
    if not isinstance(body, dict):
        return body
    targets = draw(st.sets(st.sampled_from(BAD_CHOICES[:-2]), min_size=1, max_size=3))
    for path in sorted(targets):
        *parents, leaf = path.split(".")
        node = body
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = draw(PG_TEXT)
    return body


@pytest.mark.postgres
@campaign(QUOTA["api_postgresql"])
@given(body=st.one_of(pg_bodies(), api_bodies()), key=IDEMPOTENCY_KEYS)
def test_api_on_postgresql_refuses_nul_and_huge_strings_with_422(
    pg_portal: Portal, body: Any, key: str | None
) -> None:
    api_property(pg_portal, TALLY.setdefault("api_postgresql", Phase()), body, key)


@pytest.mark.postgres
@pytest.mark.parametrize("key", ["a\x00b", "\x00", "order-42\x00"])
def test_idempotency_key_with_nul_on_postgresql_answers_422(pg_portal: Portal, key: str) -> None:
    """PostgreSQL refuses NUL in text, so the key must be refused before it reaches a query.

    (gunicorn 22+ answers 400 to such a header itself; the app must not rely on its server.)
    """
    before = counts(pg_portal.app)
    response = pg_portal.api.post(
        "/api/v1/acceptances",
        json=valid_body(),
        headers={**pg_portal.headers, "Idempotency-Key": key},
    )
    assert response.status_code == 422, (response.status_code, response.data[:300])
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert delta(before, counts(pg_portal.app)) == {}


# --- phases 4 and 5: the web forms ---------------------------------------------------------


def first(value: Any) -> Any:
    """The value a form field reads: the first of a repeated field, None when missing."""
    if value is MISSING:
        return None
    return value[0] if isinstance(value, list) else value


def assert_page_escapes(page: str, data: dict[str, Any]) -> None:
    """An entered payload is shown as text, never as markup."""
    sent = [v for value in data.values() for v in (value if isinstance(value, list) else [value])]
    for payload in XSS:
        if any(payload in str(v) for v in sent):
            assert payload not in page, f"{payload!r} is echoed unescaped"


def form_property(
    portal: Portal,
    tally: Phase,
    url: str,
    data: dict[str, Any],
    to_input: Callable[[dict[str, Any]], dict[str, Any]],
    parse: Callable[[Any], Any],
    success: re.Pattern[str],
) -> tuple[str, Any, dict[str, int]] | None:
    """POST one generated form; on 302 return (the new id, the parsed input, the row deltas)."""
    values = to_input(data)
    try:
        parsed, errors = parse(values), None
    except ValidationFailed as exc:
        parsed, errors = None, exc.errors
    cloud = data.get("cloud", MISSING)
    cloud_refused = cloud is not MISSING and first(cloud) not in {c.value for c in Cloud}

    before = counts(portal.app)
    tally.examples += 1
    response = portal.browser.post(url, data=data)
    after = counts(portal.app)
    if response.status_code >= 500:
        pytest.fail(server_error(tally, f"HTTP {response.status_code}", data))
    tally.outcomes[str(response.status_code)] += 1
    assert response.status_code in (302, 422), (response.status_code, response.data[:300])

    if response.status_code == 422:
        assert response.mimetype == "text/html"
        assert delta(before, after) == {}, "a refused form wrote rows"
        assert_page_escapes(response.get_data(as_text=True), data)
        return None

    assert errors is None, f"the form accepted what the model refuses: {errors}"
    assert not cloud_refused
    match = success.fullmatch(response.headers["Location"])
    assert match, response.headers["Location"]
    # The page the browser lands on shows the stored values as text (and takes the flash).
    shown = portal.browser.get(response.headers["Location"])
    assert shown.status_code == 200, shown.status_code
    assert_page_escapes(shown.get_data(as_text=True), data)
    return match.group(1), parsed, delta(before, after)


def acceptance_input(data: dict[str, Any]) -> dict[str, Any]:
    """The API-shaped input the acceptance form hands to the model (see AcceptanceForm)."""
    value = {name: first(data.get(name, MISSING)) for name in ACCEPTANCE_FORM}
    if value["cloud"] is None:
        value["cloud"] = "public"  # the select field's default when the key is missing
    return {
        "customer": {
            "tenantId": value["tenant_id"],
            "companyName": value["company_name"],
            "domain": value["domain"],
            "cloud": value["cloud"],
        },
        "templateId": value["template_id"],
        "dateAgreed": value["date_agreed"],
        "contact": {
            "firstName": value["first_name"],
            "lastName": value["last_name"],
            "email": value["email"],
            "phoneNumber": value["phone"],
        },
    }


def customer_input(data: dict[str, Any]) -> dict[str, Any]:
    """The API-shaped input the customer form hands to the model (see CustomerForm)."""
    return acceptance_input(data)["customer"]


@campaign(QUOTA["form_acceptance"])
@given(data=form_data(ACCEPTANCE_FORM))
def test_acceptance_form_answers_302_or_422_and_never_half_writes(
    portal: Portal, data: dict[str, Any]
) -> None:
    tally = TALLY.setdefault("form_acceptance", Phase())
    result = form_property(
        portal,
        tally,
        "/reseller/acceptances/new",
        data,
        acceptance_input,
        lambda values: parse_submission(values, phone_region=PHONE_REGION),
        re.compile(r"/reseller/acceptances/([A-Za-z0-9_-]+)"),
    )
    if result is None:
        return
    public_id, parsed, changed = result
    assert changed["acceptance_record"] == 1
    assert changed.get("customer", 0) in (0, 1)
    assert changed.get("customer_reseller", 0) in (0, 1)
    assert changed.get("idempotency_key", 0) == 0
    assert_normalized_submission(parsed, acceptance_input(data))
    assert_stored_like_submitted(portal, public_id, acceptance_input(data), parsed, "web")


@campaign(QUOTA["form_customer"])
@given(data=form_data(CUSTOMER_FORM))
def test_customer_form_answers_302_or_422_and_never_half_writes(
    portal: Portal, data: dict[str, Any]
) -> None:
    tally = TALLY.setdefault("form_customer", Phase())
    result = form_property(
        portal,
        tally,
        "/reseller/customers/new",
        data,
        customer_input,
        parse_customer,
        re.compile(r"/reseller/customers/([0-9]+)"),
    )
    if result is None:
        return
    customer_id, parsed, changed = result
    assert changed.get("acceptance_record", 0) == 0
    assert changed.get("customer", 0) in (0, 1)
    assert changed.get("customer_reseller", 0) in (0, 1)
    with new_session(portal.app.extensions["db_engine"], read_only=True) as session:
        customer = session.get_one(Customer, int(customer_id))
        link = session.exec(
            select(CustomerReseller)
            .where(CustomerReseller.customer_id == customer.id)
            .where(CustomerReseller.reseller_id == portal.reseller_id)
        ).one()
        assert customer.tenant_id == parsed.tenant_id
        assert GUID_RE.fullmatch(customer.tenant_id)
        assert link.company_name == parsed.company_name
    assert_normalized_customer(parsed, customer_input(data))


# --- 413: bodies over MAX_CONTENT_LENGTH -----------------------------------------------------


def valid_body(**extra: Any) -> dict[str, Any]:
    """A submission the API accepts, for a new customer."""
    return {
        "customer": {"tenantId": str(uuid.uuid4()), "companyName": "Contoso Korea"},
        "dateAgreed": "2026-03-02",
        "contact": {"firstName": "Minji", "lastName": "Kim", "email": "minji@contoso.example"},
        **extra,
    }


def valid_form(**extra: str) -> dict[str, str]:
    """Acceptance form fields the portal accepts, for a new customer."""
    return {
        "tenant_id": str(uuid.uuid4()),
        "company_name": "Contoso Korea",
        "domain": "",
        "cloud": "public",
        "template_id": CURRENT_TEMPLATE,
        "date_agreed": "2026-03-02",
        "first_name": "Minji",
        "last_name": "Kim",
        "email": "minji@contoso.example",
        "phone": "+82 2 1234 5678",
        **extra,
    }


def post_form(client: FlaskClient, url: str, data: dict[str, str], content_type: str) -> Any:
    """POST a form urlencoded or as multipart (encoded in memory: no client temp files)."""
    if content_type == "multipart/form-data":
        boundary, body = encode_multipart(data)
        content_type = f"multipart/form-data; boundary={boundary}"
        return client.post(url, data=body, content_type=content_type)
    return client.post(url, data=data, content_type=content_type)


def test_the_body_limit_is_five_mebibytes(app: Flask) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_CONTENT_LENGTH


def test_api_body_over_the_limit_answers_413_in_json_and_writes_nothing(portal: Portal) -> None:
    body = json.dumps(valid_body(padding="x" * MAX_CONTENT_LENGTH))
    before = counts(portal.app)
    response = portal.api.post(
        "/api/v1/acceptances", data=body, content_type="application/json", headers=portal.headers
    )
    assert response.status_code == 413
    assert response.mimetype == "application/json"
    assert isinstance(response.get_json()["error"], str)
    assert delta(before, counts(portal.app)) == {}


@pytest.mark.parametrize("url", ["/reseller/acceptances/new", "/reseller/customers/new"])
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_form_over_the_limit_answers_413_page_and_writes_nothing(
    portal: Portal, url: str, content_type: str
) -> None:
    data = valid_form(company_name="x" * (MAX_CONTENT_LENGTH + 1))
    before = counts(portal.app)
    response = post_form(portal.browser, url, data, content_type)
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "too large" in response.get_data(as_text=True)
    assert delta(before, counts(portal.app)) == {}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(valid_form(company_name="x" * 600_000), id="field-over-form-memory"),
        pytest.param(
            {**valid_form(), **{f"extra{i}": "1" for i in range(1_001)}}, id="over-1000-parts"
        ),
    ],
)
def test_multipart_form_over_the_part_limits_answers_413(
    portal: Portal, data: dict[str, str]
) -> None:
    before = counts(portal.app)
    response = post_form(portal.browser, "/reseller/acceptances/new", data, "multipart/form-data")
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert delta(before, counts(portal.app)) == {}


# --- unknown fields are ignored (mass assignment, ASVS 15.3.3) -----------------------------


def test_api_ignores_status_reseller_approver_id_flags_and_source(portal: Portal) -> None:
    body = valid_body(
        status="approved",
        resellerId=portal.other_reseller_id,
        reseller_id=portal.other_reseller_id,
        approvedById=portal.reviewer_id,
        approvedBy=portal.reviewer_id,
        id="chosen-by-client",
        flags=["contact_at_reseller_domain", "made-up"],
        source="import",
        submittedById=portal.reviewer_id,
        version=99,
    )
    body["customer"].update(id=1, cloud="public", resellerId=portal.other_reseller_id)
    body["contact"].update(id=1, flags=["x"])
    before = counts(portal.app)
    response = portal.api.post("/api/v1/acceptances", json=body, headers=portal.headers)
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["status"] == "submitted"
    assert answer["id"] != "chosen-by-client"
    assert answer["flags"] == []
    assert delta(before, counts(portal.app))["acceptance_record"] == 1
    record, _customer, _link = stored_record(portal.app, answer["id"])
    assert record.status == "submitted"
    assert record.reseller_id == portal.reseller_id
    assert record.submitted_by_id == portal.submitter_id
    assert record.approved_by_id is None
    assert record.source == "api"
    assert record.flags == []
    assert record.version == 1


def test_acceptance_form_ignores_extra_fields_and_query_parameters(portal: Portal) -> None:
    data = valid_form(
        status="approved",
        reseller_id=str(portal.other_reseller_id),
        approved_by=str(portal.reviewer_id),
        approved_by_id=str(portal.reviewer_id),
        id="chosen-by-client",
        flags="contact_at_reseller_domain",
        source="api",
        submitted_by_id=str(portal.reviewer_id),
    )
    query = f"?status=approved&reseller_id={portal.other_reseller_id}&id=1&id=2"
    before = counts(portal.app)
    response = portal.browser.post("/reseller/acceptances/new" + query, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    public_id = response.headers["Location"].rsplit("/", 1)[-1]
    assert public_id != "chosen-by-client"
    assert delta(before, counts(portal.app))["acceptance_record"] == 1
    record, _customer, _link = stored_record(portal.app, public_id)
    assert record.status == "submitted"
    assert record.reseller_id == portal.reseller_id
    assert record.submitted_by_id == portal.submitter_id
    assert record.approved_by_id is None
    assert record.source == "web"
    assert record.flags == []


def test_customer_form_ignores_another_resellers_id(portal: Portal) -> None:
    tenant = str(uuid.uuid4())
    data = {
        "tenant_id": tenant,
        "company_name": "Fabrikam",
        "cloud": "public",
        "reseller_id": str(portal.other_reseller_id),
        "organization_id": str(portal.other_reseller_id),
        "id": "1",
    }
    response = portal.browser.post("/reseller/customers/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with new_session(portal.app.extensions["db_engine"], read_only=True) as session:
        customer = session.exec(select(Customer).where(Customer.tenant_id == tenant)).one()
        links = session.exec(
            select(CustomerReseller).where(CustomerReseller.customer_id == customer.id)
        ).all()
        assert [link.reseller_id for link in links] == [portal.reseller_id]
        assert customer.id != 1


# --- bodies that are not what they claim ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param(b"", "application/json", id="empty"),
        pytest.param(b"null", "application/json", id="null"),
        pytest.param(b'"a string"', "application/json", id="string"),
        pytest.param(b"[]", "application/json", id="list"),
        pytest.param(b"{", "application/json", id="truncated"),
        pytest.param(b'{"customer": {"tenantId": "\xff"}}', "application/json", id="bad-utf8"),
        pytest.param(b"\xef\xbb\xbf{}", "application/json", id="utf8-bom"),
        pytest.param('{"a": 1}'.encode("utf-16"), "application/json", id="utf16"),
        pytest.param(b'{"dateAgreed": NaN, "customer": Infinity}', "application/json", id="nan"),
        pytest.param(b'{"dateAgreed": ' + b"9" * 5_000 + b"}", "application/json", id="huge-int"),
        pytest.param(b'{"customer": 1, "customer": {}}', "application/json", id="duplicate-keys"),
        pytest.param(
            b'{"customer": ' + b"[" * 500 + b"]" * 500 + b"}",
            "application/json",
            id="nested-500-deep",
        ),
        pytest.param(
            b'{"customer": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "application/json",
            id="nested-100000-deep",
        ),
        pytest.param(
            b'{"contact": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
            "application/json",
            id="objects-50000-deep",
        ),
        pytest.param(json.dumps(valid_body()).encode(), "text/plain", id="text-plain"),
        pytest.param(json.dumps(valid_body()).encode(), "application/xml", id="xml"),
        pytest.param(b"customer=x", "application/x-www-form-urlencoded", id="form"),
        pytest.param(b"\x00" * 1_000, "application/json", id="nul-bytes"),
    ],
)
def test_api_body_that_is_not_a_json_object_answers_422(
    portal: Portal, data: bytes, content_type: str
) -> None:
    """Nesting deeper than Python's recursion limit (a 200 kB body) is bad input too: the JSON
    decoder raises RecursionError, which is not the ValueError `get_json(silent=True)` absorbs."""
    before = counts(portal.app)
    response = portal.api.post(
        "/api/v1/acceptances", data=data, content_type=content_type, headers=portal.headers
    )
    assert response.status_code == 422, (response.status_code, response.data[:300])
    assert_field_errors(response.get_json()["errors"])
    assert delta(before, counts(portal.app)) == {}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"first_name=%ED%A0%80&email=%FF%FE", id="percent-encoded-invalid-utf8"),
        pytest.param(b"first_name=\xff\xfe&email=\xc3", id="raw-invalid-utf8"),
        pytest.param(b"first_name=%00&last_name=%0D%0A&tenant_id=%7B%7D", id="nul-crlf"),
        pytest.param(b"&&&===&=&cloud&cloud=&cloud=public", id="empty-pairs"),
        pytest.param(b"\x00" * 1_000, id="nul-bytes"),
    ],
)
def test_acceptance_form_with_garbled_encoding_answers_422(portal: Portal, body: bytes) -> None:
    before = counts(portal.app)
    response = portal.browser.post(
        "/reseller/acceptances/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422, (response.status_code, response.data[:300])
    assert delta(before, counts(portal.app)) == {}


def test_refused_form_shows_markup_and_templates_as_text(portal: Portal) -> None:
    data = valid_form(
        company_name=XSS[0],
        first_name=XSS[1],
        last_name="{{7*7}}",
        domain=XSS[2],
        email="not-an-email",
    )
    response = portal.browser.post("/reseller/acceptances/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for payload in XSS[:3]:
        assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'value="{{7*7}}"' in page  # kept as typed: not rendered as a template


# --- the total ---------------------------------------------------------------------------------


def test_campaign_ran_at_least_10000_submissions_without_server_errors(
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, Any], None],
) -> None:
    """Runs last: the phases above must have run in this session (run the whole module)."""
    total = sum(p.examples for p in TALLY.values())
    errors = [e for p in TALLY.values() for e in p.server_errors]
    lines = [
        f"bad input: {total:,} generated submissions, {len(errors)} server errors",
        *(
            f"  {name}: {p.examples:,} submissions ({dict(sorted(p.outcomes.items()))}), "
            f"{len(p.server_errors)} server errors"
            for name, p in TALLY.items()
        ),
        *(f"  server error: {e[:300]}" for e in errors),
    ]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capsys.disabled():  # shown even under -q, after the progress dots
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)
    record_property("bad_input_submissions", total)
    record_property("bad_input_server_errors", len(errors))
    assert errors == []
    missing = [name for name in REQUIRED_PHASES if name not in TALLY]
    assert not missing, f"run the whole module: the phases {missing} did not run"
    assert total >= TOTAL_NEEDED, "\n".join(lines)


@pytest.mark.postgres
@pytest.mark.parametrize("public_id", ["a\x00b", "%00", "abc def"])
def test_web_record_urls_with_nul_answer_404_on_postgresql(
    pg_portal: Portal, public_id: str
) -> None:
    """A record id that cannot be one (NUL above all: PostgreSQL refuses it) is simply missing."""
    for path in (f"/reseller/acceptances/{public_id}", f"/reseller/acceptances/{public_id}/edit"):
        assert pg_portal.browser.get(path).status_code == 404


@pytest.mark.postgres
def test_review_reason_with_nul_answers_422_on_postgresql(pg_portal: Portal) -> None:
    """A reason with control characters is refused with a message, not a 500; nothing changes."""
    made = pg_portal.api.post("/api/v1/acceptances", json=valid_body(), headers=pg_portal.headers)
    assert made.status_code == 201, made.data[:300]
    reviewer = pg_portal.app.test_client()
    login(reviewer, "reviewer@provider.test")
    before = counts(pg_portal.app)
    record = made.get_json()["id"]

    answer = reviewer.post(
        f"/review/acceptances/{record}/return",
        data={"reason": "check\x00 it"},
        follow_redirects=True,
    )

    assert answer.status_code == 200, answer.data[:300]
    assert "control characters" in answer.get_data(as_text=True)
    assert delta(before, counts(pg_portal.app)) == {}
