"""Korean and English: which language and time zone a request is shown in, and formatting.

The choice, strongest first: the signed-in user's saved preference, the `lang` cookie (set by the
language switch, so it also works on the login page), the browser's Accept-Language, English.
Times are stored in UTC and shown in the user's time zone (Asia/Seoul for Korean by default).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.support import NullTranslations
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, format_decimal, get_locale, get_translations, gettext, refresh
from flask_login import current_user

from app.config import PROJECT_ROOT
from app.markers import Message

LANGUAGES = {"en": "English", "ko": "한국어"}
DEFAULT_TIME_ZONES = {"en": "UTC", "ko": "Asia/Seoul"}
COOKIE = "lang"
TRANSLATIONS_DIR = PROJECT_ROOT / "app" / "translations"

babel = Babel()
# Where a request keeps its translations once looked up (`page_translations`).
_TRANSLATIONS = "_i18n_translations"


def select_locale() -> str:
    """The language code for this request: user preference, cookie, browser, English."""
    if not has_request_context():
        return "en"
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LANGUAGES:
        return str(chosen)
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def select_timezone() -> str:
    """The IANA time zone for this request: the user's, else the language's default."""
    if has_request_context():
        chosen = getattr(current_user, "time_zone", None) if current_user else None
        if chosen and valid_time_zone(chosen):
            return str(chosen)
    return DEFAULT_TIME_ZONES.get(str(get_locale() or "en"), "UTC")


def valid_time_zone(name: str) -> bool:
    """True when `name` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_time(value: datetime | None, zone: str | None = None) -> str:
    """A stored UTC time in the user's zone: '2026-11-25 15:04 UTC', '2026-11-26 00:04 KST'.

    The numeric form reads the same in both languages and sorts; the zone's abbreviation says
    which clock it is. A list passes `zone` (select_timezone() once) rather than have each row
    look the user's zone up again.
    """
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if zone is None:
        zone = select_timezone() if has_request_context() else "UTC"
    local = value.astimezone(ZoneInfo(zone))
    return f"{local.strftime('%Y-%m-%d %H:%M')} {local.tzname() or zone}"


def number(value: int | float) -> str:
    """A number with the user's locale's grouping, e.g. '10,000'."""
    return str(format_decimal(value))


def translate(message: str | None) -> str:
    """A text from a model, service or the database in the request's language.

    A `Message` (app.markers.M_) is translated as its template, then filled with its values
    (values that are Messages too are translated; other values, such as a company name, are
    not); any other text is looked up as it is, and an unknown text (a reviewer's free-text
    reason, an upstream error) comes back unchanged.
    """
    if not message:
        return message or ""  # gettext("") would answer the catalogue's header
    if isinstance(message, Message):
        template = str(gettext(message.msgid))
        if template == message.msgid:
            return str(message)  # not translated (English): the message's own text
        values = {
            key: translate(value) if isinstance(value, Message) else value
            for key, value in message.params.items()
        }
        return template % values if values else template
    return str(gettext(message))


def init_app(app: Flask) -> None:
    """Wire Flask-Babel; templates get `_`, `gettext`, `ngettext` and `current_language`."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES, current_language=lambda: str(get_locale() or "en")
    )
    # Templates translate through the request's translations, looked up once: Flask-Babel's own
    # callables find them anew for every text (some seven context lookups each, and a page
    # has forty-odd texts).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: page_translations().ugettext(s),
        ngettext=lambda s, p, n: page_translations().ungettext(s, p, n),
        pgettext=lambda c, s: page_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: page_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    # `{{ record.status_reason | tr }}`: stored or model texts, translated when known.
    app.add_template_filter(translate, "tr")
    # Flask-Babel keeps the chosen language on `g`; when an app context outlives a request
    # (tests, code that pushes one around several requests) one user's choice must not leak
    # into the next request. First, before any other hook translates something.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_choice)


def page_translations() -> NullTranslations:
    """This request's translations, looked up on first use; outside a request, Flask-Babel's."""
    if not has_request_context():
        return cast(NullTranslations, get_translations())
    found = g.get(_TRANSLATIONS)
    if found is None:
        found = get_translations()
        setattr(g, _TRANSLATIONS, found)
    return cast(NullTranslations, found)


def refresh_language() -> None:
    """Choose the language and time zone again (after a user changed them in this request)."""
    refresh()
    if has_request_context():
        g.pop(_TRANSLATIONS, None)


def _forget_choice() -> None:
    """Drop the language and time zone cached for the previous request."""
    refresh_language()
