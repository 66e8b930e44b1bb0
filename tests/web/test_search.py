"""Search pages, list filters and keyset pages, and the customer timeline, on the web."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

import app.web.review.views as views
from app.models import AcceptanceRecord, Customer
from app.services import review
from app.services.ledger import record_withdrawal
from tests.support import Users, submit
from tests.web.conftest import signed_in

TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
MISSING = "00000000-0000-4000-8000-000000000000"


def text(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return html.unescape(response.get_data(as_text=True))


def main(page: str) -> str:
    """The page's content without the header (whose language form repeats the URL)."""
    return page[page.index("<main") :]


def test_provider_search_finds_records_and_customers_of_every_reseller(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    a = submit(db, users.a_submitter, **{"customer.companyName": "Northwind Traders"})
    b = submit(db, users.b_submitter, **{"contact.email": "hana@northwind.example"})
    page = text(reviewer, "/review/search?q=NORTHWIND")
    assert a.public_id in page
    assert b.public_id in page
    assert "Northwind Traders" in page
    assert f"/review/acceptances/{a.public_id}" in page
    assert "Nothing found" in text(reviewer, "/review/search?q=zzzz-nothing")


def test_reseller_search_shows_nothing_of_another_reseller(
    app: Flask, db: Session, users: Users, client_a: FlaskClient
) -> None:
    ours = submit(
        db,
        users.a_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Shared as A"},
    )
    theirs = submit(
        db,
        users.b_submitter,
        **{"customer.companyName": "Only B Corp", "contact.firstName": "Boris"},
    )
    b_tenant = db.get_one(AcceptanceRecord, theirs.id).customer_id
    page = text(client_a, f"/reseller/search?q={TENANT.upper()}")
    assert ours.public_id in page
    assert "Shared as A" in page
    assert f"/reseller/customers/{ours.customer_id}" in page
    # Another reseller's tenant answers exactly like a tenant that does not exist.
    tenant_b = db.get_one(Customer, b_tenant).tenant_id
    for query in ("Only B", "Boris", theirs.public_id):
        # (The query itself is echoed in the search box.)
        page = main(text(client_a, f"/reseller/search?q={query}")).replace(query, "")
        assert theirs.public_id not in page
        assert "Only B Corp" not in page
    other = main(text(client_a, f"/reseller/search?q={tenant_b}")).replace(tenant_b, "X")
    missing = main(text(client_a, f"/reseller/search?q={MISSING}")).replace(MISSING, "X")
    assert other == missing


def test_queue_filters_by_dates_version_and_customer_and_pages_by_key(
    app: Flask, db: Session, users: Users, reviewer: FlaskClient
) -> None:
    made = [submit(db, users.a_submitter, **{"contact.lastName": f"Paged{n}"}) for n in range(3)]
    row = db.get_one(AcceptanceRecord, made[0].id)
    row.created_at = datetime(2025, 6, 1, 12, tzinfo=UTC)
    row.template_id = "00000000-0000-4000-8000-0000000000aa"
    db.add(row)
    db.commit()
    page = text(reviewer, "/review/?since=2025-05-31&until=2025-06-01")
    assert "Minji Paged0" in page
    assert "Minji Paged1" not in page
    page = text(reviewer, "/review/?version=00000000-0000-4000-8000-0000000000aa")
    assert "Minji Paged0" in page
    assert "Minji Paged2" not in page
    page = text(reviewer, f"/review/?customer={made[1].customer_id}")
    assert "Minji Paged1" in page
    assert "Minji Paged2" not in page
    page = text(reviewer, "/review/?since=yesterday")
    assert "From must be a date" in page
    assert "Minji Paged2" in page  # an unreadable filter is dropped, the list still answers
    # Keyset pages: the "Next page" link carries the filters and a cursor, never an offset.
    original = views.listing.queue_page

    def small(*args: object, **kwargs: object) -> object:
        kwargs["limit"] = 2
        return original(*args, **kwargs)  # type: ignore[arg-type]

    views.listing.queue_page = small  # type: ignore[assignment]
    try:
        first = text(reviewer, "/review/?status=submitted")
        link = re.search(r'href="(/review/\?[^"]*after=[^"]+)"', first)
        assert link is not None
        assert "status=submitted" in link[1]
        assert "offset" not in link[1]
        second = text(reviewer, html.unescape(link[1]))
    finally:
        views.listing.queue_page = original
    shown = [n for n in range(3) if f"Minji Paged{n}" in first]
    rest = [n for n in range(3) if f"Minji Paged{n}" in second]
    assert sorted(shown + rest) == [0, 1, 2]
    assert not set(shown) & set(rest)


def test_customer_timeline_whole_for_the_provider_own_part_for_a_reseller(
    app: Flask, db: Session, users: Users, reviewer: FlaskClient, client_a: FlaskClient
) -> None:
    ours = submit(
        db,
        users.a_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Shared as A"},
    )
    theirs = submit(
        db,
        users.b_submitter,
        **{"customer.tenantId": TENANT, "customer.companyName": "Shared as B"},
    )
    review.return_for_correction(db, actor=users.reviewer, record=theirs, reason="B's secret")
    db.commit()
    review.approve(db, actor=users.reviewer, record=ours)
    db.commit()
    customer = db.get_one(Customer, ours.customer_id)
    record_withdrawal(db, actor=users.b_submitter, customer=customer, reason="Changed mind")
    db.commit()
    provider = text(reviewer, f"/review/customers/{ours.customer_id}")
    timeline = provider[provider.index('id="timeline"') :]
    assert ours.public_id[:8] in timeline
    assert theirs.public_id[:8] in timeline
    assert "B's secret" in timeline
    assert "Reseller B" in timeline
    assert "customer: withdrawn" in timeline
    mine = text(client_a, f"/reseller/customers/{ours.customer_id}")
    part = mine[mine.index('id="timeline"') :]
    assert "acceptance: approved" in part
    assert "B's secret" not in mine
    assert theirs.public_id not in mine
    assert "submitter@b.test" not in mine
    assert "customer: withdrawn" not in part


def test_reseller_customer_list_filters_and_pages(
    app: Flask, db: Session, users: Users, client_a: FlaskClient
) -> None:
    submit(db, users.a_submitter, **{"customer.companyName": "Woodgrove Bank"})
    submit(db, users.a_submitter, **{"customer.companyName": "Litware"})
    submit(db, users.b_submitter, **{"customer.companyName": "Woodgrove of B"})
    page = text(client_a, "/reseller/customers?q=woodgrove")
    assert "Woodgrove Bank" in page
    assert "Litware" not in page
    assert "Woodgrove of B" not in page
    assert "No customer matches" in text(client_a, "/reseller/customers?withdrawn=1")
    provider = signed_in(app, users.reviewer.email)
    listing = text(provider, "/review/customers?q=woodgrove")
    assert "Woodgrove Bank" in listing
    assert "Woodgrove of B" in listing
