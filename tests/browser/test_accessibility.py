"""Usable by everyone: WCAG checks by axe-core, labelled fields, the skip link, keyboard use,
visible focus, and pages that fit a 375 px screen."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, PHONE, RESELLER_A, REVIEWER, Live, sign_in
from tests.integration.processes import wait_until

pytestmark = pytest.mark.browser

# The pages each kind of user works in (each one is checked at desktop and phone widths).
PAGES = {
    RESELLER_A: [
        "/reseller/acceptances/new",
        "/reseller/acceptances",
        "/reseller/todo",
        "/reseller/customers",
        "/reseller/customers/new",
        "/reseller/imports",
        "/account/password",
        "/account/preferences",
    ],
    REVIEWER: [
        "/review/",
        "/review/forwarding",
        "/review/waiting",
        "/admin/agreements",
        "/admin/audit",
    ],
    ADMIN: ["/admin/users", "/admin/acceptance-requests"],
}
PHONE_AXE_PAGES = {"/reseller/acceptances/new", "/review/", "/admin/users"}
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
# Every visible form control must have an accessible name from a label (or aria-label).
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.getClientRects().length > 0)
  .filter(el => {
    const byFor = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
    const wrapped = el.closest('label');
    const aria = (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby');
    return !(byFor || wrapped || aria);
  })
  .map(el => el.outerHTML.slice(0, 120))"""
# How many lines an element's text takes.
LINES_OF_TEXT = """c => { const range = document.createRange(); range.selectNodeContents(c);
  return range.getClientRects().length; }"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def axe_violations(page: Any) -> list[str]:
    """WCAG 2.2 A and AA violations axe-core finds on the page, one line per element."""
    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')[:160]}"
        for v in results.response["violations"]
        for node in v["nodes"]
    ]


def test_pages_pass_axe_and_label_every_field(live: Live, new_page: Callable[..., Any]) -> None:
    """Every main page, signed in as its user: no WCAG violation and no unlabelled field."""
    page = new_page()
    page.goto(f"{live.url}/login")
    problems = {"/login": axe_violations(page) + page.evaluate(UNLABELLED_CONTROLS)}
    for email, paths in PAGES.items():
        sign_in(page, live, email)
        for path in paths:
            response = page.goto(f"{live.url}{path}")
            assert response is not None
            assert response.status == 200, path
            assert page.locator("html").get_attribute("lang") == "en"
            problems[path] = axe_violations(page) + page.evaluate(UNLABELLED_CONTROLS)
    # A form that failed: its error messages and marked fields are accessible too.
    sign_in(page, live, RESELLER_A)
    page.goto(f"{live.url}/reseller/acceptances/new")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".error-summary")).to_be_visible()
    problems["failed form"] = axe_violations(page) + page.evaluate(UNLABELLED_CONTROLS)
    assert {path: found for path, found in problems.items() if found} == {}


def test_pages_fit_a_phone_screen(
    live: Live, new_page: Callable[..., Any], shoot: Callable[..., Any]
) -> None:
    """At 375 px no page scrolls sideways (wide tables scroll in their own box); axe agrees."""
    page = new_page({"width": 375, "height": 812})
    overflowing: dict[str, int] = {}
    violations: dict[str, list[str]] = {}
    for email, paths in PAGES.items():
        sign_in(page, live, email)
        for path in paths:
            page.goto(f"{live.url}{path}")
            extra = page.evaluate(OVERFLOW)
            if extra > 0:
                overflowing[path] = extra
            if path in PHONE_AXE_PAGES:  # (axe is slow: the pages with the most in them)
                found = axe_violations(page)
                if found:
                    violations[path] = found
    assert overflowing == {}, "pages wider than the screen (px too wide)"
    assert violations == {}

    # The queue's table is wider than a phone: it scrolls inside its box, by keyboard too.
    sign_in(page, live, REVIEWER)
    page.goto(f"{live.url}/review/")
    box = page.locator("main .table-scroll").first
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")
    expect(box).to_have_attribute("tabindex", "0")
    # Short cells stay whole: a date is not broken across lines.
    date_cell = box.locator("td").filter(has_text=re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")).first
    expect(date_cell).to_be_attached()
    assert date_cell.evaluate(LINES_OF_TEXT) == 1
    box.focus()
    page.keyboard.press("ArrowRight")  # (the browser scrolls smoothly: wait for it)
    assert wait_until(lambda: box.evaluate("b => b.scrollLeft") > 0, timeout=5)
    assert page.evaluate(OVERFLOW) <= 0


def test_narrow_menu_works_by_keyboard(
    live: Live, new_page: Callable[..., Any], shoot: Callable[..., Any]
) -> None:
    """On a phone the navigation folds behind a Menu button that opens, and closes with Esc."""
    page = new_page(PHONE)
    sign_in(page, live, RESELLER_A)
    page.goto(f"{live.url}/reseller/acceptances/new")
    nav = page.get_by_role("navigation", name="Main")
    menu = page.get_by_role("button", name="Menu")
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    shoot(page, "new-acceptance-phone")

    menu.focus()
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    current = nav.get_by_role("link", name="New acceptance")
    expect(current).to_have_attribute("aria-current", "page")
    shoot(page, "menu-phone")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    assert page.evaluate(OVERFLOW) <= 0


def test_skip_link_keyboard_navigation_and_visible_focus(live: Live, page: Any) -> None:
    """The first Tab reaches "Skip to content"; the nav is reachable and usable by keyboard;
    whatever has keyboard focus shows a clear outline."""
    sign_in(page, live, RESELLER_A)
    page.goto(f"{live.url}/reseller/acceptances")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert outline_width(page) >= 2
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    page.keyboard.press("Tab")
    inside_main = "document.querySelector('main').contains(document.activeElement)"
    assert page.evaluate(inside_main)

    # From the top: Tab through the header to "Customers" and follow it with Enter.
    page.goto(f"{live.url}/reseller/acceptances")
    target = page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers")
    for _ in range(30):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            break
    expect(target).to_be_focused()
    assert outline_width(page) >= 2
    page.keyboard.press("Enter")
    page.wait_for_url("**/reseller/customers")
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")

    # A field in the page shows focus too.
    in_main_field = (
        "document.querySelector('main').contains(document.activeElement)"
        " && ['INPUT', 'SELECT', 'BUTTON'].includes(document.activeElement.tagName)"
    )
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate(in_main_field):
            break
    assert page.evaluate(in_main_field)
    assert outline_width(page) >= 2


def outline_width(page: Any) -> float:
    """The outline width, in px, of the element that has focus (0 when none is drawn)."""
    width: float = page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth); }"""
    )
    return width


def test_failed_customer_form_focuses_its_error_summary(live: Live, page: Any) -> None:
    """Another form: the summary takes focus, and its links lead into the fields."""
    sign_in(page, live, RESELLER_A)
    page.goto(f"{live.url}/reseller/customers/new")
    page.get_by_label("Microsoft tenant ID").fill("not-a-guid")
    page.get_by_role("button", name="Save customer").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    summary.get_by_role("link", name="Microsoft tenant ID").press("Enter")
    expect(page.get_by_label("Microsoft tenant ID")).to_be_focused()
    expect(page.get_by_label("Microsoft tenant ID")).to_have_attribute(
        "aria-describedby", "tenant_id-error"
    )
