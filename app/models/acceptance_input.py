"""Input models for acceptances and customers: shape, normalisation and per-field messages.

The web forms and the JSON API both validate through these models, so a person sees the same
message for the same mistake wherever they make it. Business rules that need the database
(national clouds, agreement versions) live in the services.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from app.markers import M_, N_, Message
from app.models.acceptance import AgreementType
from app.models.customer import Cloud

EARLIEST_DATE_AGREED = date(2018, 1, 1)  # confirmations of acceptance began in 2018
# ISO 3166-1 alpha-2 regions (phonenumbers keeps the list current), less the "world" code.
COUNTRY_CODES = frozenset(phonenumbers.SUPPORTED_REGIONS) - {"001"}
LANGUAGE_BY_COUNTRY = {
    "KR": "ko-KR",
    "JP": "ja-JP",
    "CN": "zh-CN",
    "TW": "zh-TW",
    "HK": "zh-HK",
    "US": "en-US",
    "GB": "en-GB",
    "DE": "de-DE",
    "FR": "fr-FR",
    "ES": "es-ES",
    "VN": "vi-VN",
    "TH": "th-TH",
    "ID": "id-ID",
}


def default_language(country: str | None) -> str:
    """The agreement language most customers of a country read."""
    return LANGUAGE_BY_COUNTRY.get(country or "", "en-US")


_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _fail(message: str) -> PydanticCustomError:
    # The message object rides in the error's context, so a `Message` keeps its translation
    # template through pydantic (which would hand back only the text); see `error_map`.
    return PydanticCustomError("invalid", message, {"message": message})


def _clean_text(value: Any, what: Message, max_length: int) -> str:
    if not isinstance(value, str):
        raise _fail(M_("Enter the %(what)s as text.", what=what))
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise _fail(M_("Enter the %(what)s.", what=what))
    if any(_forbidden(ch) for ch in text):
        raise _fail(
            M_(
                "The %(what)s contains characters that cannot be used (control characters).",
                what=what,
            )
        )
    if len(text) > max_length:
        raise _fail(
            M_("The %(what)s is too long: at most %(max)s characters.", what=what, max=max_length)
        )
    return text


# Zero-width joiner and non-joiner are part of how some scripts spell names; every other
# control or format character (NUL, CR/LF, bidi overrides such as U+202E) is refused.
_JOINERS = {"\u200c", "\u200d"}


def _forbidden(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "C" and ch not in _JOINERS


def normalize_tenant_id(value: str) -> str:
    """A tenant id as a lowercase GUID without braces; ValueError if it is not a GUID."""
    text = value.strip().strip("{}").strip()
    if not re.fullmatch(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}", text):
        raise ValueError("not a GUID")
    return str(uuid.UUID(text))


def latest_allowed_date(now: datetime | None = None) -> date:
    """The latest acceptance date anywhere on Earth right now (UTC+14)."""
    return ((now or datetime.now(UTC)) + timedelta(hours=14)).date()


class CustomerInput(BaseModel):
    """A customer's tenant as a reseller enters it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    tenant_id: str
    company_name: str
    domain: str | None = None
    cloud: Cloud = Cloud.PUBLIC
    country: str | None = None  # ISO 3166-1 alpha-2; the reseller's country when missing

    @field_validator("tenant_id", mode="before")
    @classmethod
    def _tenant_id(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _fail(N_("Enter the customer's Microsoft tenant ID."))
        try:
            return normalize_tenant_id(value)
        except ValueError:
            raise _fail(
                N_(
                    "The tenant ID must be a GUID such as 0a1b2c3d-4e5f-6789-abcd-ef0123456789 "
                    "(find it in the customer's Microsoft 365 admin center or Partner Center)."
                )
            ) from None

    @field_validator("company_name", mode="before")
    @classmethod
    def _company_name(cls, value: Any) -> str:
        return _clean_text(value, M_("company name"), 200)

    @field_validator("domain", mode="before")
    @classmethod
    def _domain(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise _fail(N_("Enter the domain as text, e.g. contoso.onmicrosoft.com."))
        text = value.strip().lower().rstrip(".")
        try:
            text = text.encode("idna").decode("ascii")
            text.encode("ascii").decode("idna")  # refuses broken punycode such as xn--zz
        except UnicodeError:
            raise _fail(N_("Enter a domain name such as contoso.com.")) from None
        if not _DOMAIN_RE.fullmatch(text):
            raise _fail(N_("Enter a domain name such as contoso.com or contoso.onmicrosoft.com."))
        return text

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and value.strip().upper() in COUNTRY_CODES:
            return value.strip().upper()
        raise _fail(N_("Enter the customer's country as a two-letter code, e.g. KR or US."))

    @field_validator("cloud", mode="before")
    @classmethod
    def _cloud(cls, value: Any) -> Any:
        if value is None or value == "":
            return Cloud.PUBLIC
        if isinstance(value, str) and value.strip().lower() in {c.value for c in Cloud}:
            return value.strip().lower()
        raise _fail(N_("Choose the customer's cloud: public, usgov, germany or china."))


class ContactInput(BaseModel):
    """The person at the customer who accepted the agreement (R1)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    first_name: str
    last_name: str
    email: str
    phone_number: str | None = None

    @field_validator("first_name", mode="before")
    @classmethod
    def _first_name(cls, value: Any) -> str:
        return _clean_text(value, M_("first name"), 100)

    @field_validator("last_name", mode="before")
    @classmethod
    def _last_name(cls, value: Any) -> str:
        return _clean_text(value, M_("last name"), 100)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _fail(N_("Enter the email address of the person who accepted."))
        try:
            result = validate_email(value.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            raise _fail(
                M_(
                    "Enter a valid email address, like name@example.com (%(why)s).",
                    why=str(exc).rstrip("."),
                )
            ) from None
        if len(result.normalized) > 254:
            raise _fail(N_("The email address is too long: at most 254 characters."))
        return result.normalized

    @field_validator("phone_number", mode="before")
    @classmethod
    def _phone(cls, value: Any, info: ValidationInfo) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise _fail(N_("Enter the phone number as text, e.g. +82 2 1234 5678."))
        if any(_forbidden(ch) for ch in value):
            raise _fail(N_("The phone number contains characters that cannot be used."))
        region = (info.context or {}).get("phone_region", "KR")
        example = "+82 2 1234 5678"
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            raise _fail(
                M_("Enter a phone number with its country code, e.g. %(example)s.", example=example)
            ) from None
        if not phonenumbers.is_valid_number(number):
            raise _fail(
                M_(
                    "This is not a valid phone number. Include the country code, e.g. %(example)s.",
                    example=example,
                )
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class AcceptanceSubmission(BaseModel):
    """What a reseller submits: the customer, the agreement version and who accepted, when."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    customer: CustomerInput
    agreement_type: AgreementType = AgreementType.MICROSOFT_CUSTOMER_AGREEMENT
    template_id: str | None = None
    date_agreed: date
    contact: ContactInput
    # The agreement's language for the customer, e.g. "ko-KR"; from the country when missing.
    language: str | None = None

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            match = re.fullmatch(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}))?", value.strip())
            if match:
                region = f"-{match[2].upper()}" if match[2] else ""
                return f"{match[1].lower()}{region}"
        raise _fail(N_("Enter the agreement's language as a tag such as ko-KR or en-US."))

    @field_validator("agreement_type", mode="before")
    @classmethod
    def _agreement_type(cls, value: Any) -> Any:
        if value is None or value == "":
            return AgreementType.MICROSOFT_CUSTOMER_AGREEMENT
        if value == AgreementType.MICROSOFT_CLOUD_AGREEMENT:
            raise _fail(
                N_(
                    "The Microsoft Cloud Agreement was retired in 2020: new confirmations are for "
                    "the Microsoft Customer Agreement."
                )
            )
        if value != AgreementType.MICROSOFT_CUSTOMER_AGREEMENT:
            raise _fail(N_("The agreement type must be MicrosoftCustomerAgreement."))
        return value

    @field_validator("template_id", mode="before")
    @classmethod
    def _template_id(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise _fail(N_("The agreement version (template ID) must be a GUID."))
        try:
            return normalize_tenant_id(value)
        except ValueError:
            raise _fail(N_("The agreement version (template ID) must be a GUID.")) from None

    @field_validator("date_agreed", mode="before")
    @classmethod
    def _date_agreed_shape(cls, value: Any) -> Any:
        if value is None or value == "":
            raise _fail(N_("Enter the date the customer accepted the agreement."))
        if isinstance(value, datetime):
            raise _fail(N_("Enter the date as YYYY-MM-DD, without a time."))
        if isinstance(value, date):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise _fail(N_("This date does not exist; enter it as YYYY-MM-DD.")) from None
        raise _fail(N_("Enter the date as YYYY-MM-DD, e.g. 2026-03-31."))

    @field_validator("date_agreed")
    @classmethod
    def _date_agreed_range(cls, value: date, info: ValidationInfo) -> date:
        latest = (info.context or {}).get("latest_date") or latest_allowed_date()
        if value > latest:
            raise _fail(N_("The acceptance date cannot be in the future."))
        if value < EARLIEST_DATE_AGREED:
            raise _fail(
                N_("The acceptance date is before confirmations of acceptance existed (2018).")
            )
        return value


_FRIENDLY = {
    "missing": N_("This field is required."),
    "model_type": N_("Expected an object with the fields listed in the API guide."),
    "model_attributes_type": N_("Expected an object with the fields listed in the API guide."),
    "date_type": N_("Enter the date as YYYY-MM-DD."),
    "enum": N_("Choose one of the listed values."),
}


def error_map(exc: ValidationError) -> dict[str, list[str]]:
    """Turn pydantic's errors into {"contact.email": ["message"], ...} with readable messages."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "body"
        message = (
            (error.get("ctx") or {}).get("message") or error["msg"]
            if error["type"] == "invalid"
            else None
        )
        message = message or _FRIENDLY.get(error["type"]) or error["msg"]
        errors.setdefault(path, []).append(message)
    return errors


def parse_submission(
    data: Any, *, phone_region: str, latest_date: date | None = None
) -> AcceptanceSubmission:
    """Validate `data` (API JSON or form values in the API's shape); ValueError-free.

    Raises `app.services.errors.ValidationFailed` with per-field messages.
    """
    from app.services.errors import ValidationFailed

    try:
        return AcceptanceSubmission.model_validate(
            data, context={"phone_region": phone_region, "latest_date": latest_date}
        )
    except ValidationError as exc:
        raise ValidationFailed(error_map(exc)) from None


def parse_customer(data: Any) -> CustomerInput:
    """Validate a customer's fields; raises ValidationFailed with per-field messages."""
    from app.services.errors import ValidationFailed

    try:
        return CustomerInput.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(error_map(exc)) from None


__all__ = [
    "AcceptanceSubmission",
    "ContactInput",
    "CustomerInput",
    "error_map",
    "normalize_tenant_id",
    "parse_customer",
    "parse_submission",
]
