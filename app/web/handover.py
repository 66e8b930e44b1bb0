"""What a reseller hands its customer: the acceptance link, as a QR code and ready-made messages.

The portal itself sends nothing to the customer (R4): the reseller copies these into its own
channel (email, messenger, a printed page).
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

from app.services.waiting import AcceptanceLink


@dataclass(frozen=True)
class Handover:
    """The link with its QR code and the two messages (Korean, English)."""

    url: str
    qr_data_uri: str
    message_ko: str
    message_en: str
    link: AcceptanceLink


def qr_data_uri(text: str) -> str:
    """An SVG QR code of `text` as a data: URI (the CSP allows `img-src data:`, no script)."""
    # Medium error correction survives a smudged print-out; the quiet zone is kept small.
    return str(segno.make(text, error="m").svg_data_uri(scale=4, border=2))


def message_ko(company: str, url: str) -> str:
    """The Korean message for the customer."""
    return (
        f"{company} 담당자님께,\n\n"
        "Microsoft 고객 계약(Microsoft Customer Agreement)에 대한 동의를 요청드립니다.\n"
        "아래 링크를 열어 Microsoft 페이지에서 계약 내용을 확인하신 후 직접 동의해 주세요. "
        "동의는 Microsoft 페이지에서 고객님께서 직접 하시며, 링크는 일정 기간이 지나면 "
        "만료됩니다.\n\n"
        f"{url}\n\n"
        "감사합니다."
    )


def message_en(company: str, url: str) -> str:
    """The English message for the customer."""
    return (
        f"Dear {company} team,\n\n"
        "Please accept the Microsoft Customer Agreement.\n"
        "Open the link below to read the agreement and accept it yourself on Microsoft's own "
        "page. The link expires after a while.\n\n"
        f"{url}\n\n"
        "Thank you."
    )


def handover(link: AcceptanceLink | None) -> Handover | None:
    """Everything the detail pages show for a record waiting for its customer."""
    if link is None:
        return None
    return Handover(
        url=link.url,
        qr_data_uri=qr_data_uri(link.url),
        message_ko=message_ko(link.company_name, link.url),
        message_en=message_en(link.company_name, link.url),
        link=link,
    )
