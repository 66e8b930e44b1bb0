"""The reseller's forms. Validation lives in the input models; these give CSRF and rendering."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.models.customer import CLOUD_LABELS

# The labels are marked in the model (N_) and translated when the form is drawn.
CLOUD_CHOICES = [SelectChoice(cloud.value, _l(label)) for cloud, label in CLOUD_LABELS.items()]
# Countries offered first in the country field's suggestions (any ISO 3166-1 code is accepted).
COMMON_COUNTRIES = ("KR", "US", "JP", "CN", "TW", "HK", "SG", "VN", "TH", "ID", "DE", "FR", "ES")
# Agreement languages offered; the default follows the customer's country.
LANGUAGES = {
    "ko-KR": "한국어 (ko-KR)",
    "en-US": "English (en-US)",
    "ja-JP": "日本語 (ja-JP)",
    "zh-CN": "中文 简体 (zh-CN)",
    "zh-TW": "中文 繁體 (zh-TW)",
    "de-DE": "Deutsch (de-DE)",
    "fr-FR": "Français (fr-FR)",
    "es-ES": "Español (es-ES)",
    "vi-VN": "Tiếng Việt (vi-VN)",
    "th-TH": "ไทย (th-TH)",
    "id-ID": "Bahasa Indonesia (id-ID)",
}
LANGUAGE_CHOICES = [SelectChoice(tag, label) for tag, label in LANGUAGES.items()]

# API field path -> form field name, to put service errors next to the right input.
FIELD_PATHS = {
    "customer.tenantId": "tenant_id",
    "customer.companyName": "company_name",
    "customer.domain": "domain",
    "customer.cloud": "cloud",
    "customer.country": "country",
    "language": "language",
    "templateId": "template_id",
    "dateAgreed": "date_agreed",
    "contact.firstName": "first_name",
    "contact.lastName": "last_name",
    "contact.email": "email",
    "contact.phoneNumber": "phone",
}


class CustomerFields:
    """The customer part, shared by the customer form and the acceptance form."""

    tenant_id = StringField(
        _l("Microsoft tenant ID"),
        description=_l("The customer's tenant GUID, e.g. 0a1b2c3d-4e5f-6789-abcd-ef0123456789."),
    )
    company_name = StringField(_l("Company name"))
    domain = StringField(
        _l("Primary domain"), description=_l("Optional, e.g. contoso.onmicrosoft.com.")
    )
    cloud = SelectField(_l("Cloud"), choices=CLOUD_CHOICES, default="public")
    country = StringField(
        _l("Country"),
        description=_l(
            "Two-letter ISO code, e.g. KR; your organisation's country when left empty."
        ),
        render_kw={"list": "country-codes", "maxlength": 2, "autocomplete": "off"},
    )


class CustomerForm(FlaskForm, CustomerFields):
    """Register a customer the reseller serves."""

    def to_input(self) -> dict[str, Any]:
        """The values in the API's shape."""
        return {
            "tenantId": self.tenant_id.data,
            "companyName": self.company_name.data,
            "domain": self.domain.data,
            "cloud": self.cloud.data,
            "country": self.country.data,
        }


class AcceptanceForm(FlaskForm, CustomerFields):
    """A customer's acceptance of the agreement (R1)."""

    template_id = HiddenField()
    # Not limited to the listed choices here: the input model gives the one validation message.
    language = SelectField(
        _l("Agreement language"),
        choices=LANGUAGE_CHOICES,
        validate_choice=False,
        description=_l("The language the customer reads the agreement in."),
    )
    # A text field shown as a date picker: the input model gives the one validation message.
    date_agreed = StringField(_l("Date the customer accepted"), render_kw={"type": "date"})
    first_name = StringField(_l("First name"))
    last_name = StringField(_l("Last name"))
    email = EmailField(_l("Email"))
    phone = TelField(
        _l("Phone (optional)"), description=_l("With the country code, e.g. +82 2 1234 5678.")
    )

    def to_input(self) -> dict[str, Any]:
        """The values in the API's shape."""
        return {
            "customer": {
                "tenantId": self.tenant_id.data,
                "companyName": self.company_name.data,
                "domain": self.domain.data,
                "cloud": self.cloud.data,
                "country": self.country.data,
            },
            "language": self.language.data,
            "templateId": self.template_id.data,
            "dateAgreed": self.date_agreed.data,
            "contact": {
                "firstName": self.first_name.data,
                "lastName": self.last_name.data,
                "email": self.email.data,
                "phoneNumber": self.phone.data,
            },
        }


class ActionForm(FlaskForm):
    """A POST-only button (issue a new acceptance link)."""


class WithdrawForm(FlaskForm):
    """Withdraw a record, with an optional note."""

    reason = TextAreaField(_l("Why (optional)"))
