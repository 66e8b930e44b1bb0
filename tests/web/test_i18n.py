"""Korean and English: a complete catalogue, pages in the user's language, local times."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlmodel import Session
from werkzeug.test import TestResponse

from app import i18n
from app.i18n import page_translations, refresh_language
from app.models import AcceptanceRecord, User
from app.services import review
from app.services.users import create_api_token
from tests.conftest import login
from tests.support import Users, submission, submit

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "app" / "translations" / "ko" / "LC_MESSAGES"
# The same keywords as `make translations`.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None, "M_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def text(response: TestResponse) -> str:
    """The page as text, entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def set_language(db: Session, user: User, locale: str | None, zone: str | None = None) -> None:
    """Save a user's language and time zone, as the preferences page does."""
    user.locale = locale
    user.time_zone = zone
    db.add(user)
    db.commit()


def as_user(app: Flask, user: User, **headers: str) -> FlaskClient:
    """A signed-in browser session of `user`, sending `headers` on every request."""
    client = app.test_client()
    client.environ_base.update(
        {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    )
    login(client, user.email)
    return client


# --- (a) the catalogue ------------------------------------------------------------------------


def extracted_messages() -> dict[str | tuple[str, ...], str]:
    """Every message `make translations` would extract (msgid -> where), from babel.cfg."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str | tuple[str, ...], str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        if message and message != ("",):
            key = message if isinstance(message, str) else tuple(message)
            found.setdefault(key, f"{filename}:{lineno}")
    return found


def load_catalog() -> dict[str | tuple[str, ...], str | tuple[str, ...]]:
    """The Korean .po as {msgid: msgstr} (plural ids and strings as tuples), fuzzy left out."""
    with (CATALOG / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    return {message.id: message.string for message in catalog if message.id and not message.fuzzy}


def test_every_extracted_message_has_a_korean_translation() -> None:
    catalog = load_catalog()
    missing = []
    for msgid, where in extracted_messages().items():
        key = msgid[0] if isinstance(msgid, tuple) and len(msgid) == 1 else msgid
        translated = catalog.get(key)
        strings = translated if isinstance(translated, tuple) else (translated,)
        if not translated or not all(strings):
            missing.append(f"{where}: {msgid!r}")
    assert not missing, (
        "Texts without a Korean translation (run `make translations`, translate them in "
        f"{CATALOG / 'messages.po'}, compile):\n" + "\n".join(sorted(missing))
    )


def test_translations_keep_every_placeholder() -> None:
    wrong = []
    for msgid, msgstr in load_catalog().items():
        source = msgid[-1] if isinstance(msgid, tuple) else msgid
        for target in msgstr if isinstance(msgstr, tuple) else (msgstr,):
            # ngettext fills %(num)d itself; Korean has one form, which may leave it out.
            want = set(PLACEHOLDER.findall(source)) - (
                {"num"} if isinstance(msgid, tuple) else set()
            )
            got = set(PLACEHOLDER.findall(target)) - (
                {"num"} if isinstance(msgid, tuple) else set()
            )
            if target and want != got:
                wrong.append(f"{msgid!r}: {target!r}")
    assert not wrong, "Placeholders differ:\n" + "\n".join(wrong)


def test_the_committed_mo_is_the_compiled_po() -> None:
    with (CATALOG / "messages.po").open("rb") as handle:
        source = read_po(handle)
    compiled = io.BytesIO()
    write_mo(compiled, source)
    compiled.seek(0)
    with (CATALOG / "messages.mo").open("rb") as handle:
        committed = read_mo(handle)
    expected = read_mo(compiled)

    def pairs(catalog: Iterable[Message]) -> dict[object, object]:
        def frozen(value: object) -> object:
            return tuple(value) if isinstance(value, list | tuple) else value

        return {frozen(m.id): frozen(m.string) for m in catalog if m.id}

    assert pairs(committed) == pairs(expected), (
        "messages.mo is stale: run `.venv/bin/pybabel compile -d app/translations`"
    )


# --- (b) pages follow the user's language -----------------------------------------------------


@pytest.fixture
def record(db: Session, users: Users) -> AcceptanceRecord:
    """A submitted record of reseller A, submitted at a known moment."""
    found = submit(db, users.a_submitter)
    found.submitted_at = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    db.add(found)
    db.commit()
    return found


PAGES = {
    "reviewer": [
        ("/review/", "검토 대기열"),
        ("/review/forwarding", "파트너 센터로 전송"),
        ("/review/waiting", "대기 중인 고객"),
        ("/admin/agreements", "계약 버전"),
        ("/admin/audit", "감사 기록"),
        ("/account/password", "비밀번호 변경"),
        ("/account/preferences", "언어 및 시간대"),
    ],
    "provider_admin": [
        ("/admin/users", "사용자 추가"),
        ("/admin/acceptance-requests", "동의 요청"),
    ],
    "a_submitter": [
        ("/reseller/acceptances/new", "새 동의"),
        ("/reseller/todo", "할 일"),
        ("/reseller/customers/new", "고객 추가"),
    ],
}


@pytest.mark.parametrize("role", sorted(PAGES))
def test_pages_are_in_korean_for_a_korean_user(
    app: Flask, db: Session, users: Users, role: str
) -> None:
    user = getattr(users, role)
    set_language(db, user, "ko")
    client = as_user(app, user)
    for url, korean in PAGES[role]:
        response = client.get(url)
        assert response.status_code == 200, url
        page = text(response)
        assert '<html lang="ko">' in page, url
        assert korean in page, url
        assert "로그아웃" in page, url  # the layout too
        assert "English" in page, url  # the switch offers the other language


def test_record_pages_are_in_korean(
    app: Flask, db: Session, users: Users, record: AcceptanceRecord
) -> None:
    set_language(db, users.a_submitter, "ko")
    set_language(db, users.reviewer, "ko")
    reseller_page = text(
        as_user(app, users.a_submitter).get(f"/reseller/acceptances/{record.public_id}")
    )
    assert "제출 내용" in reseller_page
    assert "제출됨" in reseller_page  # the status badge
    assert "이력" in reseller_page
    review_page = text(as_user(app, users.reviewer).get(f"/review/acceptances/{record.public_id}"))
    assert "승인하고 파트너 센터로 보내기" in review_page
    assert "수정 요청으로 반환" in review_page


def test_templates_look_the_language_up_once_and_again_after_a_change(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Templates keep the request's translations (one lookup a page), and a language changed
    during the request (the preferences form) is what the rest of the response speaks."""
    babel_config = app.extensions["babel"]
    text = "{{ _('Preferences saved.') }}"
    lookups = []
    real_lookup = i18n.get_translations
    monkeypatch.setattr(i18n, "get_translations", lambda: lookups.append(1) or real_lookup())
    with app.test_request_context(headers={"Accept-Language": "ko"}):
        assert render_template_string(text + text + "{{ _('Sign in') }}").startswith(
            "설정을 저장했습니다.설정을 저장했습니다."
        )
        assert len(lookups) == 1
        assert page_translations() is page_translations()
        chosen = babel_config.locale_selector
        babel_config.locale_selector = lambda: "en"
        try:
            assert render_template_string(text) == "설정을 저장했습니다."  # still this page's
            refresh_language()
            assert render_template_string(text) == "Preferences saved."
        finally:
            babel_config.locale_selector = chosen
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert render_template_string(text) == "Preferences saved."  # nothing kept across


def test_an_english_user_sees_english(app: Flask, db: Session, users: Users) -> None:
    set_language(db, users.reviewer, "en")
    page = text(as_user(app, users.reviewer, **{"Accept-Language": "ko-KR,ko"}).get("/review/"))
    assert '<html lang="en">' in page
    assert "Review queue" in page
    assert "검토 대기열" not in page


def test_the_saved_preference_beats_the_cookie_and_the_browser(
    app: Flask, db: Session, users: Users
) -> None:
    set_language(db, users.reviewer, "en")
    client = as_user(app, users.reviewer, **{"Accept-Language": "ko"})
    client.set_cookie("lang", "ko")
    assert "Review queue" in text(client.get("/review/"))
    set_language(db, users.reviewer, "ko")
    client.set_cookie("lang", "en")
    assert "검토 대기열" in text(client.get("/review/"))


def test_without_a_preference_the_cookie_beats_the_browser(
    app: Flask, db: Session, users: Users
) -> None:
    set_language(db, users.reviewer, None)
    client = as_user(app, users.reviewer, **{"Accept-Language": "en-US,en"})
    assert "Review queue" in text(client.get("/review/"))
    client.set_cookie("lang", "ko")
    assert "검토 대기열" in text(client.get("/review/"))


def test_without_preference_or_cookie_the_browser_decides(
    app: Flask, db: Session, users: Users
) -> None:
    set_language(db, users.reviewer, None)
    korean = as_user(app, users.reviewer, **{"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert "검토 대기열" in text(korean.get("/review/"))
    other = as_user(app, users.reviewer, **{"Accept-Language": "fr-FR"})
    assert "Review queue" in text(other.get("/review/"))


def test_the_language_switch_works_before_signing_in(client: FlaskClient) -> None:
    assert "Sign in" in text(client.get("/login"))
    response = client.post("/language", data={"language": "ko", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "lang=ko" in response.headers["Set-Cookie"]
    page = text(client.get("/login"))
    assert '<html lang="ko">' in page
    assert "로그인" in page
    assert "이 기기에서 로그인 상태 유지(14일)" in page  # the form's labels too
    failed = client.post("/login", data={"email": "nobody@example.test", "password": "x" * 12})
    assert "이메일 또는 비밀번호가 올바르지 않거나" in text(failed)


def test_the_switch_is_remembered_on_the_account(app: Flask, db: Session, users: Users) -> None:
    set_language(db, users.reviewer, None)
    client = as_user(app, users.reviewer)
    response = client.post("/language", data={"language": "ko", "next": "/review/forwarding"})
    assert response.headers["Location"] == "/review/forwarding"
    db.refresh(users.reviewer)
    assert users.reviewer.locale == "ko"
    # Another browser, without the cookie, still gets Korean.
    assert "검토 대기열" in text(as_user(app, users.reviewer).get("/review/"))


def test_the_switch_refuses_other_languages_and_other_sites(
    app: Flask, db: Session, users: Users
) -> None:
    set_language(db, users.reviewer, "en")
    client = as_user(app, users.reviewer)
    response = client.post("/language", data={"language": "xx", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert "Set-Cookie" not in response.headers or "lang=" not in response.headers["Set-Cookie"]
    db.refresh(users.reviewer)
    assert users.reviewer.locale == "en"


def test_preferences_save_language_and_time_zone(app: Flask, db: Session, users: Users) -> None:
    client = as_user(app, users.a_submitter)
    response = client.post("/account/preferences", data={"locale": "ko", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    db.refresh(users.a_submitter)
    assert (users.a_submitter.locale, users.a_submitter.time_zone) == ("ko", "Asia/Tokyo")
    assert "설정을 저장했습니다." in text(client.get("/account/preferences"))
    bad = client.post("/account/preferences", data={"locale": "ko", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert "올바르지 않은 선택값입니다." in text(bad)  # WTForms' own messages are Korean too


def test_form_errors_and_flashes_are_in_korean(
    app: Flask, db: Session, users: Users, record: AcceptanceRecord
) -> None:
    set_language(db, users.a_submitter, "ko")
    client = as_user(app, users.a_submitter)
    response = client.post(
        "/reseller/acceptances/new",
        data={
            "tenant_id": "not-a-guid",
            "company_name": "",
            "first_name": "x" * 101,
            "last_name": "Kim",
            "email": "minji.kim@contoso.example",
            "date_agreed": "2026-03-02",
        },
    )
    assert response.status_code == 422
    page = text(response)
    assert "테넌트 ID는 0a1b2c3d-4e5f-6789-abcd-ef0123456789와 같은 GUID여야 합니다" in page
    assert "회사 이름을(를) 입력하세요." in page  # a message with a translated value
    assert "이름이(가) 너무 깁니다. 최대 100자까지 입력할 수 있습니다." in page
    assert "항목 3개를 수정하세요" in page
    set_language(db, users.reviewer, "ko")
    reviewer = as_user(app, users.reviewer)
    review.reject(db, actor=users.reviewer, record=record, reason="서명이 없습니다")
    db.commit()
    url = f"/review/acceptances/{record.public_id}"
    page = text(reviewer.post(f"{url}/approve", follow_redirects=True))
    # A service refusal with translated values inside ("rejected", "approved").
    assert "거부됨 상태의 기록은 승인할 수 없습니다." in page
    assert "서명이 없습니다" in page  # the reviewer's own words pass through


def test_the_api_keeps_english_messages(app: Flask, db: Session, users: Users) -> None:
    set_language(db, users.a_submitter, "ko")
    _row, secret = create_api_token(db, actor=None, user=users.a_submitter, label="tests")
    db.commit()
    client = app.test_client()
    response = client.post(
        "/api/v1/acceptances",
        json=submission(**{"customer.companyName": "", "contact.firstName": "x" * 101}),
        headers={"Authorization": f"Bearer {secret}", "Accept-Language": "ko-KR"},
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors["customer.companyName"] == ["Enter the company name."]
    assert errors["contact.firstName"] == ["The first name is too long: at most 100 characters."]


# --- (c) times in the user's zone -------------------------------------------------------------


def test_times_are_shown_in_seoul_time_for_a_korean_user(
    app: Flask, db: Session, users: Users, record: AcceptanceRecord
) -> None:
    url = f"/reseller/acceptances/{record.public_id}"
    set_language(db, users.a_submitter, "ko")
    assert "2026-03-02 00:30 KST" in text(as_user(app, users.a_submitter).get(url))
    set_language(db, users.a_submitter, "en")
    assert "2026-03-01 15:30 UTC" in text(as_user(app, users.a_submitter).get(url))
    set_language(db, users.a_submitter, "en", "Asia/Seoul")
    assert "2026-03-02 00:30 KST" in text(as_user(app, users.a_submitter).get(url))
    set_language(db, users.a_submitter, "ko", "America/New_York")
    assert "2026-03-01 10:30 EST" in text(as_user(app, users.a_submitter).get(url))


# --- (d) no English left on Korean pages ------------------------------------------------------

# Three or more lowercase English words in a row: a sentence someone forgot to wrap. Data
# (company names, emails, GUIDs) does not look like this.
ENGLISH_RUN = re.compile(r"\b[a-z]{2,}(?:[ ,'’-]+[a-z]{2,}){2,}\b")
# Visible text: outside tags, scripts and styles; attribute values people read too.
TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.S)
READ_ATTRIBUTES = re.compile(r'(?:title|alt|placeholder|aria-label)="([^"]*)"')
# Codes shown as codes (commands, column names, ids) are not sentences to translate.
CODE = re.compile(
    r"<(code|kbd|samp)[^>]*>.*?</\1>|<(\w+)[^>]*class=\"[^\"]*\bmono\b[^\"]*\"[^>]*>[^<]*</\2>",
    re.S,
)


# A whole text of two or more English words and no Korean ("Served by", "Tenant ID"), except
# the seeded data and names that are not translated.
ENGLISH_NODE = re.compile(r"[A-Za-z][A-Za-z’'-]*(?:[,:.()]* [ ,:.()]*[A-Za-z][A-Za-z’'-]*)+[.:]?")
NOT_TRANSLATED = {
    "Contoso Korea",
    "Reseller A",
    "Reseller B",
    "Minji Kim",
    "Admin Provider",
    "Reviewer Provider",
    "Bahasa Indonesia (id-ID)",
}


def english_runs(page: str) -> list[str]:
    """Runs of English words a Korean reader would see on `page`."""
    page = CODE.sub("", page)
    # Copy-ready messages for the customer include an English one on purpose.
    page = re.sub(r"Dear .*?Thank you\.", "", page, flags=re.S)
    nodes = [node.strip() for node in TAGS.split(page)] + READ_ATTRIBUTES.findall(page)
    found = []
    for node in nodes:
        found += [m.group(0) for m in ENGLISH_RUN.finditer(node)]
        if node not in NOT_TRANSLATED and ENGLISH_NODE.fullmatch(node):
            found.append(node)
    return found


def html_pages(app: Flask, client: FlaskClient, extra: list[str]) -> list[str]:
    """Every GET page without URL parameters that answers HTML for this client, plus `extra`."""
    urls = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set())
        and not rule.arguments
        and not rule.rule.startswith(("/api", "/static", "/health", "/_"))
    )
    pages = []
    for url in [*urls, *extra]:
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages.append(url)
    return pages


@pytest.mark.parametrize("role", ["reviewer", "provider_admin", "a_submitter", "a_admin"])
def test_korean_pages_have_no_english_sentences(
    app: Flask, db: Session, users: Users, record: AcceptanceRecord, role: str
) -> None:
    user = getattr(users, role)
    returned = submit(db, users.a_submitter)
    review.return_for_correction(
        db, actor=users.reviewer, record=returned, reason="날짜가 틀립니다"
    )
    db.commit()
    set_language(db, user, "ko")
    client = as_user(app, user)
    area = "review" if user.is_provider else "reseller"
    extra = [
        f"/{area}/acceptances/{record.public_id}",
        f"/{area}/acceptances/{returned.public_id}",
        f"/{area}/customers/{record.customer_id}",
        *([] if user.is_provider else [f"/reseller/acceptances/{returned.public_id}/edit"]),
    ]
    leftovers = {}
    for url in html_pages(app, client, extra):
        runs = english_runs(text(client.get(url)))
        if runs:
            leftovers[url] = runs
    assert not leftovers, f"English left on Korean pages: {leftovers}"
