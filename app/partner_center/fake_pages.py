"""HTML of the fake Partner Center: the acceptance page (Korean and English) and the document.

Stands in for Microsoft's embeddable acceptance component (contract §2.5 step 2), whose real
look is not ours to copy: it only has to show who accepts for which company, link the agreement
and offer an Accept button, so that a person (or a browser test) can play the customer. Every
value is HTML-escaped; pure functions, no Flask.
"""

from __future__ import annotations

from html import escape

from app.partner_center import enhanced_wire as wire
from app.partner_center.fake_models import FakeAttestation, FakeTemplate

LANGUAGES = ("ko", "en")

_TEXTS: dict[str, dict[str, str]] = {
    "ko": {
        "title": "Microsoft 고객 계약 동의",
        "fake": "개발 및 테스트용 가짜 Partner Center 페이지입니다.",
        "intro": "{company}의 {name} 님, 아래 Microsoft 고객 계약을 읽고 동의해 주세요.",
        "company": "회사",
        "signatory": "서명자",
        "email": "이메일",
        "country": "국가",
        "read": "Microsoft 고객 계약 읽기",
        "accept": "동의합니다",
        "accepted": "감사합니다. Microsoft 고객 계약에 대한 동의가 기록되었습니다.",
        "already": "이 계약에는 이미 동의하셨습니다.",
        "expired": "이 링크는 만료되었습니다. 파트너에게 새 링크를 요청해 주세요.",
        "unknown": "이 링크를 찾을 수 없습니다. 파트너에게 받은 링크 전체를 확인해 주세요.",
        "other": "English",
    },
    "en": {
        "title": "Microsoft Customer Agreement acceptance",
        "fake": "A fake Partner Center page for development and tests.",
        "intro": "{name} of {company}, please read and accept the Microsoft Customer "
        "Agreement below.",
        "company": "Company",
        "signatory": "Signatory",
        "email": "Email",
        "country": "Country",
        "read": "Read the Microsoft Customer Agreement",
        "accept": "I accept",
        "accepted": "Thank you. Your acceptance of the Microsoft Customer Agreement has been "
        "recorded.",
        "already": "This agreement has already been accepted.",
        "expired": "This link has expired. Please ask your partner for a new link.",
        "unknown": "This link was not found. Please check that you have the whole link your "
        "partner sent.",
        "other": "한국어",
    },
}

# Message pages: text key -> HTTP status.
MESSAGES = {"accepted": 200, "already": 200, "expired": 410, "unknown": 404}


def _page(lang: str, title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _texts(lang: str) -> dict[str, str]:
    return _TEXTS[lang if lang in _TEXTS else "ko"]


def _name(attestation: FakeAttestation, lang: str) -> str:
    first, last = attestation.signatory.first_name, attestation.signatory.last_name
    # Korean puts the family name first.
    return f"{last} {first}" if lang == "ko" else f"{first} {last}"


def acceptance_page(
    attestation: FakeAttestation, lang: str, *, action: str, document_href: str, other_href: str
) -> str:
    """The page where the customer reads the agreement and accepts it."""
    t = _texts(lang)
    name = _name(attestation, lang)
    intro = t["intro"].format(company=attestation.company_name, name=name)
    hidden = (
        f'<input type="hidden" name="{wire.ACCEPTANCE_QUERY}" '
        f'value="{escape(attestation.attestation_id)}">\n'
        f'<input type="hidden" name="lang" value="{escape(lang)}">\n'
    )
    body = (
        f"<h1>{escape(t['title'])}</h1>\n"
        f'<p class="fake">{escape(t["fake"])}</p>\n'
        f"<p>{escape(intro)}</p>\n<dl>\n"
        f"<dt>{escape(t['company'])}</dt><dd>{escape(attestation.company_name)}</dd>\n"
        f"<dt>{escape(t['signatory'])}</dt><dd>{escape(name)}</dd>\n"
        f"<dt>{escape(t['email'])}</dt><dd>{escape(attestation.signatory.email)}</dd>\n"
        f"<dt>{escape(t['country'])}</dt><dd>{escape(attestation.country)}</dd>\n</dl>\n"
        f'<p><a href="{escape(document_href)}">{escape(t["read"])}</a></p>\n'
        f'<form method="post" action="{escape(action)}">\n{hidden}'
        f'<button type="submit">{escape(t["accept"])}</button>\n</form>\n'
        f'<p><a href="{escape(other_href)}">{escape(t["other"])}</a></p>\n'
    )
    return _page(lang, t["title"], body)


def message_page(lang: str, key: str) -> tuple[str, int]:
    """A page with one message (`MESSAGES` keys) and its HTTP status."""
    t = _texts(lang)
    body = (
        f"<h1>{escape(t['title'])}</h1>\n"
        f'<p class="fake">{escape(t["fake"])}</p>\n'
        f'<p class="message {escape(key)}">{escape(t[key])}</p>\n'
    )
    return _page(lang, t["title"], body), MESSAGES[key]


def document_page(template: FakeTemplate, *, country: str, language: str) -> str:
    """A stand-in for the agreement document of a template, country and language (§6)."""
    title = f"Microsoft Customer Agreement ({language}, {country})"
    body = (
        f"<h1>{escape(title)}</h1>\n"
        f"<p>Template {escape(template.template_id)} ({escape(template.agreement_type)}), "
        f"country {escape(country)}, language {escape(language)}.</p>\n"
        "<p>This stand-in document is served by the fake Partner Center. The real text is at "
        f'<a href="{escape(template.agreement_link)}">{escape(template.agreement_link)}</a>.</p>\n'
    )
    return _page(language, title, body)
