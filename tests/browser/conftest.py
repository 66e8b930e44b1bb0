"""A real browser against the real portal: Playwright drives Debian's chromium.

The portal runs as it does in production, in processes of its own: gunicorn serves the web app,
a Celery worker and beat forward approved records, and the fake Partner Center answers over
HTTP (in this process, so a test can read what it received). Each flow (legacy, enhanced) gets
one such stack per test session, on a fresh SQLite database seeded with `intake seed-demo`.

Screenshots are written to docs/screenshots/ only when SAVE_SCREENSHOTS=1 (so that `make test`
leaves the git tree as it was); otherwise to the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.partner_center.fake_server import FakeServer
from tests.integration.processes import BIN, Process, celery_worker, wait_until
from tests.support import in_ci

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
DEMO_PASSWORD = "intake-demo-2026"
SECRET_KEY = "browser-test-secret-" + "x" * 32
RESELLER_A = "submitter@reseller-a.example"
RESELLER_B = "submitter@reseller-b.example"
REVIEWER = "reviewer@provider.example"
ADMIN = "admin@provider.example"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Chromium flags for a headless run in a container: no sandbox (we run as root), no GPU, and no
# background traffic to Google's services (the machine reaches nothing but package registries).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(what: str) -> None:
    """Skip, or under CI fail: the browser tests must run there."""
    message = f"{what}; run `make test` (it installs chromium and fonts-nanum) or apt-get them"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium (Playwright cannot download its own browsers here)."""
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if path is None:
        _missing("chromium is not installed")
    return str(path)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    """One headless chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Live:
    """A running portal: its address, the fake Partner Center and the processes' logs."""

    url: str
    flow: str
    fake: FakeServer
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    def logs(self, tail: int = 3000) -> str:
        """The end of every process's log, to explain a failure."""
        return "\n".join(f"--- {p.name}\n{p.log()[-tail:]}" for p in self.processes)


def _seed(database_url: str) -> None:
    """Migrate, run `intake seed-demo`, and add a few submissions from both resellers, so the
    queue and lists look like real use (in this process: a new interpreter per step is slow)."""
    from alembic import command
    from sqlmodel import select

    from app import create_app
    from app.cli import alembic_config, seed_demo
    from app.db import get_engine, session_scope
    from app.models import User
    from app.models.acceptance_input import parse_submission
    from app.services import acceptance as submissions
    from tests.support import submission

    command.upgrade(alembic_config(database_url), "head")
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "ENV": "testing",
            "INSTANCE_DIR": Path(database_url.split("///", 1)[1]).parent / "instance",
        }
    )
    result = app.test_cli_runner().invoke(seed_demo, env={"DEMO_PASSWORD": DEMO_PASSWORD})
    assert result.exit_code == 0, result.output
    rows = [
        (RESELLER_A, "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "Contoso Korea", "Minji", "Kim",
         "minji.kim@contoso.example", date(2026, 3, 2)),
        (RESELLER_A, "6fa459ea-ee8a-4ca4-894e-db77e160355e", "Fabrikam", "Jae-won", "Park",
         "jaewon.park@reseller-a.example", date(2026, 3, 4)),
        (RESELLER_B, "7c9e6679-7425-40de-944b-e07fc1f90ae7", "Northwind Traders", "Seo-yeon",
         "Lee", "seoyeon.lee@northwind.example", date(2026, 3, 5)),
    ]  # fmt: skip
    with app.app_context(), session_scope(get_engine()) as session:
        for email, tenant, company, first, last, contact, agreed in rows:
            user = session.exec(select(User).where(User.email == email)).one()
            body = submission(
                **{
                    "customer.tenantId": tenant,
                    "customer.companyName": company,
                    "customer.domain": None,
                    "customer.country": "KR",
                    "contact.firstName": first,
                    "contact.lastName": last,
                    "contact.email": contact,
                    "dateAgreed": agreed.isoformat(),
                }
            )
            submissions.submit(session, actor=user, data=parse_submission(body, phone_region="KR"))
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the demo data, copied by each stack."""
    path = tmp_path_factory.mktemp("demo") / "intake.sqlite"
    _seed(f"sqlite:///{path}")
    return path


def _start(flow: str, tmp: Path, database: Path) -> Live:
    shutil.copyfile(database, tmp / "intake.sqlite")
    fake = FakeServer().start()
    env = {
        "INTAKE_ENV": "development",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{tmp / 'intake.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.sqlite'}",
        "REDIS_URL": "",
        "INSTANCE_DIR": str(tmp / "instance"),
        "PARTNER_CENTER_URL": fake.url,
        "PARTNER_CENTER_FLOW": flow,
        "FORWARD_LEASE_SECONDS": "20",
        "ENHANCED_POLL_BASE_SECONDS": "0.5",
        "ENHANCED_POLL_CAP_SECONDS": "1",
        "TRUSTED_HOSTS": "",
    }
    port = _free_port()
    web = Process(
        "web",
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--graceful-timeout",
            "3",
            "--log-level",
            "warning",
            "app:create_app()",
        ],
        env,
        tmp,
    )
    live = Live(url=f"http://127.0.0.1:{port}", flow=flow, fake=fake, env=env)
    # No beat: an approval enqueues its record at once and the worker schedules its own short
    # polls; the sweeper is for lost messages, which the integration tests cover.
    live.processes = [web, celery_worker(env, tmp, concurrency=2)]

    def ready() -> bool:
        if web.popen.poll() is not None:
            return True  # exited: reported below
        try:
            return httpx.get(f"{live.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    started = wait_until(ready, timeout=60, interval=0.2)
    if not started or web.popen.poll() is not None:
        _stop(live)
        pytest.fail(f"the portal did not start:\n{live.logs()}")
    return live


def _stop(live: Live) -> None:
    """TERM every process at once, then stop each (KILL after a few seconds): a test run does
    not wait for graceful shutdowns one after the other."""
    for process in live.processes:
        process.kill(signal.SIGTERM)
    for process in live.processes:
        process.stop(timeout=5)
    live.fake.stop()


@pytest.fixture(scope="session")
def live_stacks(
    tmp_path_factory: pytest.TempPathFactory, demo_database: Path
) -> Iterator[Callable[[str], Live]]:
    """Start a stack per flow on first use; stop them all at the end of the session."""
    stacks: dict[str, Live] = {}

    def get(flow: str) -> Live:
        if flow not in stacks:
            stacks[flow] = _start(flow, tmp_path_factory.mktemp(f"live-{flow}"), demo_database)
        return stacks[flow]

    try:
        yield get
    finally:
        for live in stacks.values():
            _stop(live)


@pytest.fixture
def live(live_stacks: Callable[[str], Live]) -> Live:
    """The portal on the legacy flow (one create call confirms a record)."""
    return live_stacks("legacy")


@pytest.fixture
def live_enhanced(live_stacks: Callable[[str], Live]) -> Live:
    """The portal on the enhanced flow (the customer accepts on Microsoft's page)."""
    return live_stacks("enhanced")


class BrowserProblems:
    """What went wrong in the pages: console errors (CSP violations among them), uncaught script
    errors, and failed loads of scripts, styles and images."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page: Any) -> None:
        """Record what goes wrong on `page`."""
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A page answered 422 (a form with errors) also logs "Failed to load resource": the
        # response handler below judges loads, by what was loaded.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.messages.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.messages.append(f"{response.status} for {response.url}")


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts (own cookies: one signed-in person each).

    At the end the test fails if any page logged a console error, e.g. a CSP violation.
    """
    contexts: list[Any] = []
    problems = BrowserProblems()

    def open_page(viewport: dict[str, int] | None = None, **options: Any) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems.messages, "\n".join(problems.messages)


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """A desktop-sized page (1280 x 800)."""
    return new_page()


@pytest.fixture
def shoot(tmp_path: Path) -> Callable[..., Path]:
    """Save a screenshot: to docs/screenshots/ with SAVE_SCREENSHOTS=1, else to tmp_path."""
    save = os.environ.get("SAVE_SCREENSHOTS", "") == "1"

    def take(page: Any, name: str, *, full_page: bool = False) -> Path:
        assert re.fullmatch(r"[a-z0-9-]+", name), name
        folder = SCREENSHOTS if save else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        assert path.stat().st_size > 1000
        return path

    return take


def sign_in(page: Any, live: Live, email: str) -> None:
    """Sign in through the login form, as a person would (signing out whoever was in)."""
    # Let the last page's late requests (the favicon) finish first: their answers refresh the
    # session cookie, and one arriving after the clearing would sign the old user back in.
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()
    response = page.goto(f"{live.url}/login")
    assert page.get_by_label("Email").count() == 1, (
        f"{response.status if response else None} {page.url}: {page.inner_text('main')[:500]}"
    )
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]
