"""The main journeys in a real browser: a reseller submits, the provider approves, the record is
confirmed by the worker through the (fake) Partner Center, and the customer accepts on
Microsoft's page in the enhanced flow."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    PROJECT_ROOT,
    RESELLER_A,
    RESELLER_B,
    REVIEWER,
    Live,
    sign_in,
)
from tests.integration.processes import wait_until

pytestmark = pytest.mark.browser
Shoot = Callable[..., Any]


def fill_acceptance(page: Any, *, tenant: str, company: str, email: str) -> None:
    """Fill the new-acceptance form's required fields by their labels."""
    page.get_by_label("Microsoft tenant ID").fill(tenant)
    page.get_by_label("Company name").fill(company)
    page.get_by_label("First name").fill("Hana")
    page.get_by_label("Last name").fill("Choi")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Phone (optional)").fill("+82 2 555 0142")
    page.get_by_label("Date the customer accepted").fill("2026-03-10")


def submit_acceptance(page: Any, live: Live, company: str) -> str:
    """As the signed-in reseller, submit a new acceptance; return the record's page URL."""
    page.goto(f"{live.url}/reseller/acceptances/new")
    fill_acceptance(
        page, tenant=str(uuid.uuid4()), company=company, email="hana.choi@customer.example"
    )
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".flash-success")).to_be_visible()
    return str(page.url)


def record_id(url: str) -> str:
    """The record's public id from its page's URL."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def test_reseller_submits_an_acceptance(live: Live, page: Any, shoot: Shoot) -> None:
    """A failed submit names every missing field at the top and focuses it; a full one lands."""
    sign_in(page, live, RESELLER_A)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New acceptance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New acceptance")
    shoot(page, "new-acceptance")

    # Nothing filled in: the page comes back with the error summary, focused.
    page.get_by_role("button", name="Submit for review").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Microsoft tenant ID")).to_be_visible()
    expect(summary.get_by_role("link", name="Email")).to_be_visible()
    expect(page.get_by_label("Microsoft tenant ID")).to_have_attribute("aria-invalid", "true")
    shoot(page, "new-acceptance-errors")
    # The summary's links lead to the field.
    summary.get_by_role("link", name="Company name").click()
    expect(page.get_by_label("Company name")).to_be_focused()

    tenant = str(uuid.uuid4())
    fill_acceptance(page, tenant=tenant, company="Adatum Seoul", email="hana.choi@adatum.example")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".flash-success")).to_contain_text("Submitted")
    expect(page.get_by_role("heading", level=1)).to_have_text("Adatum Seoul")
    expect(page.locator(".page-head .badge")).to_have_text("Submitted")
    expect(page.locator("main")).to_contain_text(tenant)
    shoot(page, "acceptance-submitted")

    page.get_by_role("link", name="Acceptances").first.click()
    expect(page.get_by_role("link", name="Adatum Seoul")).to_be_visible()
    shoot(page, "acceptances")


def test_provider_approves_and_the_record_is_confirmed(
    live: Live, new_page: Callable[..., Any], shoot: Shoot
) -> None:
    """The reviewer approves from the queue; the worker confirms it to Partner Center."""
    reseller = new_page()
    sign_in(reseller, live, RESELLER_A)
    record_url = submit_acceptance(reseller, live, "Litware Busan")

    reviewer = new_page()
    sign_in(reviewer, live, REVIEWER)
    reviewer.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    row = reviewer.get_by_role("row").filter(has_text="Litware Busan")
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("Submitted")
    # The seeded submission whose contact sits at the reseller's own domain is flagged.
    expect(reviewer.get_by_role("row").filter(has_text="Fabrikam")).to_contain_text(
        "Contact at reseller's domain"
    )
    shoot(reviewer, "queue")

    row.get_by_role("link", name="Litware Busan").click()
    expect(reviewer.get_by_role("heading", level=1)).to_contain_text("Litware Busan")
    shoot(reviewer, "review-detail", full_page=True)
    reviewer.get_by_role("button", name="Approve and send to Partner Center").click()
    expect(reviewer.locator(".flash")).to_be_visible()

    # The worker sends it; the reviewer's page shows Confirmed after a reload.
    badge = reviewer.locator(".page-head .badge")

    def confirmed() -> bool:
        reviewer.reload()
        return bool(badge.inner_text() == "Confirmed")

    assert wait_until(confirmed, timeout=60, interval=1), (
        f"still {badge.inner_text()}\n{live.logs()}"
    )
    expect(reviewer.locator(".timeline")).to_contain_text("confirmed")
    shoot(reviewer, "confirmed", full_page=True)

    # The reseller sees it too, and Partner Center received exactly one confirmation.
    reseller.goto(record_url)
    expect(reseller.locator(".page-head .badge")).to_have_text("Confirmed")
    stats = live.fake.store.stats()
    assert sum(c["accepted"] for c in stats["byCustomer"].values()) >= 1


def test_enhanced_flow_customer_accepts_on_microsofts_page(
    live_enhanced: Live, new_page: Callable[..., Any], shoot: Shoot
) -> None:
    """The 2026 loop: approval makes a link; the customer accepts on it; the record confirms."""
    live = live_enhanced
    reseller = new_page()
    sign_in(reseller, live, RESELLER_A)
    record_url = submit_acceptance(reseller, live, "Proseware Incheon")

    reviewer = new_page()
    sign_in(reviewer, live, REVIEWER)
    reviewer.goto(f"{live.url}/review/acceptances/{record_id(record_url)}")
    reviewer.get_by_role("button", name="Approve and send to Partner Center").click()
    expect(reviewer.locator(".flash")).to_be_visible()

    # The worker creates the attestation; the reseller's to-do lists the customer's link.
    waiting = reseller.locator("#waiting").get_by_role("row").filter(has_text="Proseware Incheon")

    def listed() -> bool:
        reseller.goto(f"{live.url}/reseller/todo")
        return bool(waiting.count() == 1)

    assert wait_until(listed, timeout=60, interval=1), live.logs()
    link = waiting.get_by_role("textbox").input_value()
    assert "/mca/?attestationid=" in link, link
    shoot(reseller, "todo")
    reseller.goto(record_url)
    expect(reseller.get_by_role("heading", name="Acceptance link for the customer")).to_be_visible()
    shoot(reseller, "acceptance-link", full_page=True)

    # The customer opens the link (Microsoft's page, here the fake's) and accepts.
    customer = new_page(PHONE)
    customer.goto(link)
    customer.get_by_role("button", name=re.compile("accept", re.IGNORECASE)).first.click()
    customer.wait_for_load_state()

    badge = reseller.locator(".page-head .badge")

    def confirmed() -> bool:
        reseller.reload()
        return bool(badge.inner_text() == "Confirmed")

    assert wait_until(confirmed, timeout=60, interval=1), (
        f"still {badge.inner_text()}\n{live.logs()}"
    )


# Header and page texts the Korean test looks for, when the catalogue translates them.
KOREAN_CHECKED = (
    "Acceptances",
    "New acceptance",
    "Customers",
    "To do",
    "Sign out",
    "Password",
    "Submit for review",
    "Company name",
)


def korean_catalogue() -> dict[str, str]:
    """msgid -> Korean text for the entries of the catalogue that are translated."""
    from babel.messages.pofile import read_po

    path = PROJECT_ROOT / "app" / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalogue = read_po(po)
    return {
        str(m.id): str(m.string)
        for m in catalogue
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def test_korean_ui(live: Live, new_page: Callable[..., Any], shoot: Shoot) -> None:
    """The header's language switch shows the portal in Korean, and back in English."""
    translated = {k: v for k, v in korean_catalogue().items() if k in KOREAN_CHECKED}
    assert len(translated) >= 3, f"the Korean catalogue translates too little: {translated}"
    page = new_page()
    # Reseller B: the choice is saved on the account, and no other test signs in as B.
    sign_in(page, live, RESELLER_B)
    page.goto(f"{live.url}/reseller/acceptances/new")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    try:
        page.locator("form.language").get_by_role("button", name="한국어").click()
        expect(page.locator("html")).to_have_attribute("lang", "ko")
        assert page.url.endswith("/reseller/acceptances/new")  # back on the same page
        main_text = page.locator("body").inner_text()
        for english, korean in translated.items():
            assert korean in main_text, f"{english!r} is not shown as {korean!r}"
        switch_back = page.locator("form.language").get_by_role("button", name="English")
        expect(switch_back).to_have_attribute("lang", "en")
        shoot(page, "new-acceptance-ko")
        # The choice follows the person: a new sign-in is in Korean too.
        sign_in(page, live, RESELLER_B)
        expect(page.locator("html")).to_have_attribute("lang", "ko")
        phone = new_page(PHONE)
        sign_in(phone, live, RESELLER_B)
        phone.goto(f"{live.url}/reseller/acceptances")
        expect(phone.locator("html")).to_have_attribute("lang", "ko")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        expect(phone.locator(".menu-toggle")).to_have_text("메뉴")
        shoot(phone, "acceptances-ko-phone")
        page.locator("form.language").get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        # Leave B in English for whoever signs in next (the choice is kept on the account).
        if page.locator("html").get_attribute("lang") != "en":
            page.locator("form.language").get_by_role("button", name="English").click()


def import_csv(good: int, bad: int) -> bytes:
    """A CSV in the template's columns: `good` valid rows, then `bad` rows with errors."""
    from app.models.imports import COLUMNS

    lines = [",".join(COLUMNS)]
    for n in range(good + bad):
        row = {
            "tenant_id": str(uuid.uuid4()),
            "company_name": f"Imported Customer {n + 1:03d}",
            "cloud": "public",
            "country": "KR",
            "language": "ko-KR",
            "date_agreed": "2026-03-02",
            "first_name": "Minji",
            "last_name": f"Kim{n}",
            "email": f"minji.kim{n}@customer{n}.example",
        }
        if n >= good:
            row["date_agreed"] = "2026-13-45"  # no such date
            row["email"] = "not-an-email"
        lines.append(",".join(row.get(column, "") for column in COLUMNS))
    return ("\r\n".join(lines) + "\r\n").encode()


def test_bulk_import_with_progress(live: Live, page: Any, shoot: Shoot) -> None:
    """Upload a CSV; the progress bar follows the worker; failed rows are listed with reasons."""
    good, bad = 120, 3
    sign_in(page, live, RESELLER_A)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import acceptances")
    shoot(page, "import")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "acceptances.csv", "mimeType": "text/csv", "buffer": import_csv(good, bad)}]
    )
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator(".flash-success")).to_contain_text(f"{good + bad} rows")
    bar = page.locator("progress#import-bar")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("max", str(good + bad))
    shoot(page, "import-progress")

    # The page follows the import by itself (no reload by the test); it ends Finished.
    seen: set[str] = set()

    def finished() -> bool:
        value = bar.get_attribute("value") if bar.count() else None
        if value is not None:
            seen.add(value)
        return bool(page.locator("[data-import-status]").inner_text() == "Finished")

    assert wait_until(finished, timeout=90, interval=0.3), f"progress seen: {seen}\n{live.logs()}"
    expect(bar).to_have_attribute("value", str(good + bad))
    expect(page.locator('[data-count="created"]')).to_have_text(str(good))
    expect(page.locator('[data-count="failed"]')).to_have_text(str(bad))
    failed_rows = page.locator("#failed-rows")
    expect(failed_rows).to_contain_text("email")
    expect(failed_rows.locator("tbody tr").first).to_be_visible()
    shoot(page, "import-done", full_page=True)

    # The rows are real submissions in the reseller's list.
    page.get_by_role("link", name="See them in Acceptances").click()
    imported = page.get_by_role("link", name=re.compile(r"^Imported Customer \d{3}$"))
    expect(imported.first).to_be_visible()
