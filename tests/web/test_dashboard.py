"""The dashboard pages: links into the filtered lists, the chart's data, the table twin."""

from __future__ import annotations

import html
import json
import re

from flask.testing import FlaskClient
from sqlmodel import Session

from app.models import AcceptanceRecord, Confirmation, RecordStatus
from tests.support import Users, submit


def page_of(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return html.unescape(response.get_data(as_text=True))


def test_provider_dashboard_counts_link_to_the_queue_and_feed_the_chart(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    submit(db, users.a_submitter, **{"contact.lastName": "Longest"})
    failed = submit(db, users.b_submitter)
    row = db.get_one(AcceptanceRecord, failed.id)
    row.status = RecordStatus.FAILED.value
    row.upstream_code = "invalid_contact"
    db.add(row)
    db.add(
        Confirmation(
            customer_id=failed.customer_id,
            agreement_type=failed.agreement_type,
            template_id=failed.template_id,
            source="sent",
            record_id=failed.id,
        )
    )
    db.commit()
    page = page_of(reviewer, "/review/dashboard")
    assert re.search(r'href="/review/\?status=submitted"><span class="num">1</span>', page)
    assert 'href="/review/?status=failed"' in page
    assert "invalid_contact" in page
    assert 'href="/review/forwarding"' in page
    assert 'href="/admin/agreements"' in page
    data = re.search(
        r'<script type="application/json" id="confirmations-chart-data">(.*?)</script>',
        page,
        re.S,
    )
    assert data is not None
    chart = json.loads(data[1])
    assert len(chart["labels"]) == len(chart["counts"]) == 30
    assert chart["counts"][-1] == 1
    # The same numbers as a table, for screen readers and pages without JavaScript.
    assert f"<td>{chart['labels'][-1]}</td><td>1</td>" in page
    assert "/static/dashboard.js" in page
    assert "vendor/chartjs/chart.umd.min.js" in page
    # No inline code: every <script> is a src file or a JSON data block.
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_reseller_dashboard_shows_only_its_own_numbers(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    submit(db, users.a_submitter, **{"contact.lastName": "Ours"})
    submit(db, users.b_submitter, **{"customer.companyName": "Only B Corp"})
    page = page_of(client_a, "/reseller/dashboard")
    assert re.search(
        r'href="/reseller/acceptances\?status=submitted"><span class="num">1</span>', page
    )
    assert "Only B Corp" not in page
    assert 'href="/reseller/customers?outdated=1"' in page
