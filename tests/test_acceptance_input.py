"""The input models: one readable message per bad field, at the API's field path (R1, R2, R12)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.models.acceptance import AgreementType
from app.models.acceptance_input import (
    AcceptanceSubmission,
    CustomerInput,
    parse_customer,
    parse_submission,
)
from app.models.customer import Cloud
from app.services.errors import ValidationFailed
from tests.support import submission

LATEST = date(2026, 3, 31)  # "today" for the date checks, so the tests do not age
TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def parse(body: Any, *, region: str = "KR") -> AcceptanceSubmission:
    return parse_submission(body, phone_region=region, latest_date=LATEST)


def errors_of(body: Any, *, region: str = "KR") -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse(body, region=region)
    return caught.value.errors


def test_valid_body_parses_with_every_field() -> None:
    body = submission(
        **{
            "customer.tenantId": TENANT,
            "customer.domain": "contoso.onmicrosoft.com",
            "agreementType": "MicrosoftCustomerAgreement",
            "templateId": "117a77b0-9360-443b-8795-c6dedc750cf9",
        }
    )
    parsed = parse(body)
    assert parsed.customer.tenant_id == TENANT
    assert parsed.customer.company_name == "Contoso Korea"
    assert parsed.customer.domain == "contoso.onmicrosoft.com"
    assert parsed.customer.cloud is Cloud.PUBLIC
    assert parsed.agreement_type is AgreementType.MICROSOFT_CUSTOMER_AGREEMENT
    assert parsed.template_id == "117a77b0-9360-443b-8795-c6dedc750cf9"
    assert parsed.date_agreed == date(2026, 3, 2)
    assert parsed.contact.first_name == "Minji"
    assert parsed.contact.last_name == "Kim"
    assert parsed.contact.email == "minji.kim@contoso.example"
    assert parsed.contact.phone_number == "+82212345678"


def test_defaults_fill_agreement_type_template_cloud_and_phone() -> None:
    body = submission(**{"customer.cloud": None, "contact.phoneNumber": None})
    parsed = parse(body)
    assert parsed.agreement_type is AgreementType.MICROSOFT_CUSTOMER_AGREEMENT
    assert parsed.template_id is None  # the service fills in the current version
    assert parsed.customer.cloud is Cloud.PUBLIC
    assert parsed.contact.phone_number is None


def test_unknown_fields_are_ignored() -> None:
    parsed = parse({**submission(), "status": "approved", "resellerId": 99})
    assert "status" not in parsed.model_dump()
    assert "reseller_id" not in parsed.model_dump()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("customer.tenantId", "not-a-guid", "The tenant ID must be a GUID"),
        ("customer.tenantId", TENANT[:-1], "The tenant ID must be a GUID"),
        ("customer.tenantId", "  ", "Enter the customer's Microsoft tenant ID."),
        ("customer.tenantId", 12345, "Enter the customer's Microsoft tenant ID."),
        ("customer.companyName", "", "Enter the company name."),
        ("customer.companyName", "   ", "Enter the company name."),
        ("customer.companyName", "x" * 201, "The company name is too long: at most 200"),
        ("customer.companyName", "Contoso\x00Korea", "control characters"),
        ("customer.companyName", "Contoso\tKorea", "control characters"),
        ("customer.domain", "not a domain", "Enter a domain name such as contoso.com"),
        ("customer.domain", "contoso", "Enter a domain name such as contoso.com"),
        ("customer.domain", "-contoso.com", "Enter a domain name such as contoso.com"),
        ("customer.cloud", "mars", "Choose the customer's cloud: public, usgov, germany or china."),
        ("contact.firstName", "", "Enter the first name."),
        ("contact.lastName", "x" * 101, "The last name is too long: at most 100"),
        ("contact.email", "not-an-email", "Enter a valid email address, like name@example.com"),
        ("contact.email", "minji@", "Enter a valid email address"),
        ("contact.email", "", "Enter the email address of the person who accepted."),
        ("contact.phoneNumber", "12345", "This is not a valid phone number."),
        ("contact.phoneNumber", "call me", "Enter a phone number with its country code"),
        ("dateAgreed", "2026-04-01", "The acceptance date cannot be in the future."),
        ("dateAgreed", "2017-12-31", "before confirmations of acceptance existed (2018)"),
        ("dateAgreed", "02/03/2026", "Enter the date as YYYY-MM-DD"),
        ("dateAgreed", "2026-3-2", "Enter the date as YYYY-MM-DD"),
        ("dateAgreed", "2026-03-02T10:00:00", "Enter the date as YYYY-MM-DD"),
        (
            "dateAgreed",
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            "Enter the date as YYYY-MM-DD, without a time.",
        ),
        ("dateAgreed", "", "Enter the date the customer accepted the agreement."),
        ("agreementType", "MicrosoftCloudAgreement", "retired in 2020"),
        (
            "agreementType",
            "SomethingElse",
            "The agreement type must be MicrosoftCustomerAgreement.",
        ),
        ("templateId", "v2", "The agreement version (template ID) must be a GUID."),
        ("templateId", 7, "The agreement version (template ID) must be a GUID."),
    ],
)
def test_bad_field_gets_its_own_message_at_its_path(path: str, value: Any, message: str) -> None:
    errors = errors_of(submission(**{path: value}))
    assert list(errors) == [path], errors
    assert len(errors[path]) == 1
    assert message in errors[path][0]


def test_microsoft_cloud_agreement_is_refused_with_the_reason() -> None:
    errors = errors_of(submission(agreementType="MicrosoftCloudAgreement"))
    assert errors["agreementType"] == [
        "The Microsoft Cloud Agreement was retired in 2020: new confirmations are for "
        "the Microsoft Customer Agreement."
    ]


@pytest.mark.parametrize("path", ["customer", "contact", "dateAgreed", "contact.email"])
def test_missing_required_part_is_reported_at_its_path(path: str) -> None:
    errors = errors_of(submission(**{path: None}))
    assert errors == {path: ["This field is required."]}


def test_every_bad_field_is_reported_at_once() -> None:
    errors = errors_of(
        submission(
            **{
                "customer.tenantId": "nope",
                "customer.companyName": "",
                "dateAgreed": "2099-01-01",
                "contact.email": "bad",
                "contact.phoneNumber": "123",
            }
        )
    )
    assert set(errors) == {
        "customer.tenantId",
        "customer.companyName",
        "dateAgreed",
        "contact.email",
        "contact.phoneNumber",
    }


def test_a_body_that_is_not_an_object_is_refused_as_a_whole() -> None:
    errors = errors_of(["not", "an", "object"])
    assert list(errors) == ["body"]
    assert "Expected an object" in errors["body"][0]


@pytest.mark.parametrize(
    "raw",
    [
        "{3F2504E0-4F89-41D3-9A0C-0305E82C3301}",
        "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
        "  3f2504e0-4f89-41d3-9a0c-0305e82c3301  ",
        "3F2504E04F8941D39A0C0305E82C3301",
    ],
)
def test_tenant_id_is_normalised_to_a_lowercase_guid_without_braces(raw: str) -> None:
    assert parse(submission(**{"customer.tenantId": raw})).customer.tenant_id == TENANT


def test_template_id_is_normalised_like_a_tenant_id() -> None:
    parsed = parse(submission(templateId="{117A77B0-9360-443B-8795-C6DEDC750CF9}"))
    assert parsed.template_id == "117a77b0-9360-443b-8795-c6dedc750cf9"


def test_date_on_the_latest_day_and_on_the_first_day_of_2018_are_allowed() -> None:
    assert parse(submission(dateAgreed="2026-03-31")).date_agreed == LATEST
    assert parse(submission(dateAgreed="2018-01-01")).date_agreed == date(2018, 1, 1)


def test_future_is_judged_against_the_latest_date_given() -> None:
    body = submission(dateAgreed="2026-04-01")
    assert parse_submission(body, phone_region="KR", latest_date=date(2026, 4, 1)).date_agreed
    with pytest.raises(ValidationFailed):
        parse_submission(body, phone_region="KR", latest_date=date(2026, 3, 31))


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+82 2 1234 5678", "+82212345678"),
        ("02-1234-5678", "+82212345678"),  # national format, region KR
        ("010-1234-5678", "+821012345678"),
        ("+82 (0)10 1234 5678", "+821012345678"),
    ],
)
def test_phone_is_stored_in_e164(raw: str, e164: str) -> None:
    assert parse(submission(**{"contact.phoneNumber": raw})).contact.phone_number == e164


def test_phone_in_national_format_is_read_in_the_given_region() -> None:
    errors = errors_of(submission(**{"contact.phoneNumber": "02-1234-5678"}), region="US")
    assert list(errors) == ["contact.phoneNumber"]


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_phone_means_no_phone(blank: str) -> None:
    assert parse(submission(**{"contact.phoneNumber": blank})).contact.phone_number is None


def test_email_domain_is_lowercased_and_spaces_trimmed() -> None:
    parsed = parse(submission(**{"contact.email": "  Minji.Kim@Contoso.EXAMPLE "}))
    assert parsed.contact.email == "Minji.Kim@contoso.example"


def test_text_fields_are_trimmed() -> None:
    parsed = parse(
        submission(
            **{
                "customer.companyName": "  Contoso Korea  ",
                "contact.firstName": " Minji ",
                "contact.lastName": " Kim\n",
            }
        )
    )
    assert parsed.customer.company_name == "Contoso Korea"
    assert (parsed.contact.first_name, parsed.contact.last_name) == ("Minji", "Kim")


def test_company_name_of_exactly_200_characters_is_allowed() -> None:
    name = "x" * 200
    assert parse(submission(**{"customer.companyName": name})).customer.company_name == name


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Contoso.COM.", "contoso.com"),
        (" contoso.onmicrosoft.com ", "contoso.onmicrosoft.com"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_domain_is_normalised(raw: str, normalised: str) -> None:
    assert parse(submission(**{"customer.domain": raw})).customer.domain == normalised


def test_blank_domain_means_no_domain() -> None:
    assert parse(submission(**{"customer.domain": " "})).customer.domain is None


@pytest.mark.parametrize(("raw", "cloud"), [("USGOV", Cloud.USGOV), (" Public ", Cloud.PUBLIC)])
def test_cloud_is_read_case_insensitively(raw: str, cloud: Cloud) -> None:
    # National clouds parse; refusing them (R14) is the service's rule.
    assert parse(submission(**{"customer.cloud": raw})).customer.cloud is cloud


def test_parse_customer_reports_paths_without_the_customer_prefix() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_customer({"tenantId": "nope", "companyName": "", "cloud": "moon"})
    errors = caught.value.errors
    assert set(errors) == {"tenantId", "companyName", "cloud"}
    assert "must be a GUID" in errors["tenantId"][0]
    assert errors["companyName"] == ["Enter the company name."]


def test_parse_customer_accepts_and_normalises_a_valid_customer() -> None:
    parsed = parse_customer(
        {
            "tenantId": "{3F2504E0-4F89-41D3-9A0C-0305E82C3301}",
            "companyName": " Fabrikam ",
            "domain": "Fabrikam.Example",
        }
    )
    assert parsed == CustomerInput(
        tenant_id=TENANT, company_name="Fabrikam", domain="fabrikam.example", cloud=Cloud.PUBLIC
    )
