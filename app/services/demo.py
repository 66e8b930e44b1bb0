"""Demo customers for `intake seed-demo`: a few tenants, one shared by both resellers."""

from __future__ import annotations

from sqlmodel import Session, select

from app.models import Organization, User
from app.models.acceptance_input import CustomerInput
from app.models.customer import Cloud
from app.services.customers import register_customer

DEMO_CUSTOMERS = (
    (
        "a",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "Contoso Korea",
        "contosokr.onmicrosoft.com",
        Cloud.PUBLIC,
    ),
    (
        "a",
        "6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "Fabrikam",
        "fabrikam.onmicrosoft.com",
        Cloud.PUBLIC,
    ),
    (
        "a",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "Woodgrove (US Gov)",
        "woodgrove.us",
        Cloud.USGOV,
    ),
    (
        "b",
        "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "Northwind Traders",
        "northwind.onmicrosoft.com",
        Cloud.PUBLIC,
    ),
    (
        "a",
        "16fd2706-8baf-433b-82eb-8c7fada847da",
        "Tailspin Toys",
        "tailspin.onmicrosoft.com",
        Cloud.PUBLIC,
    ),
    (
        "b",
        "16fd2706-8baf-433b-82eb-8c7fada847da",
        "Tailspin Toys Ltd",
        "tailspin.onmicrosoft.com",
        Cloud.PUBLIC,
    ),
)


def seed_customers(session: Session, reseller_a: Organization, reseller_b: Organization) -> None:
    """Register the demo customers as each reseller's first user would (idempotent)."""
    orgs = {"a": reseller_a, "b": reseller_b}
    for key, tenant_id, name, domain, cloud in DEMO_CUSTOMERS:
        user = session.exec(
            select(User).where(User.organization_id == orgs[key].id).order_by(User.id)  # type: ignore[arg-type]
        ).first()
        if user is None:
            continue
        register_customer(
            session,
            actor=user,
            data=CustomerInput(tenant_id=tenant_id, company_name=name, domain=domain, cloud=cloud),
        )
