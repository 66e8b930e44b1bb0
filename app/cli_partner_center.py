"""`intake partner-center …`: check the Partner Center connection, replace the refresh token.

`check` reads the agreement metadata with the configured credentials, the cheapest call that
proves the whole chain (token endpoint, consent, MFA claim, network, Partner Center), and turns
each known failure into one sentence an operator can act on (`diagnose`). Nothing here prints
a secret: only the URL, the flow, the auth mode and the non-secret ids.
"""

from __future__ import annotations

import re
from typing import NoReturn
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext

from app.context import current_settings
from app.db import get_engine, session_scope
from app.partner_center.errors import AuthFailed, Rejected, Transient
from app.partner_center.gateway import CUSTOMER_AGREEMENT
from app.partner_center.runtime import REFRESH_TOKEN_SECRET, gateway, refresh_token_source
from app.services.secrets import SecretError, save_secret

GUIDE = "docs/PARTNER-CENTER.md"

EXPIRED_REFRESH_TOKEN = (
    "the refresh token expired or was revoked: a partner admin must consent again "
    f"({GUIDE}, step 2), then store the new token (`intake partner-center store-refresh-token`)"
)
WRONG_TENANT = (
    "wrong tenant id: PARTNER_CENTER_TENANT_ID must be the partner's own Microsoft Entra tenant "
    f"({GUIDE}, step 1)"
)
WRONG_SECRET = (
    "the client secret is wrong or expired: create a new one for the app registration and set "
    f"PARTNER_CENTER_CLIENT_SECRET ({GUIDE}, step 1)"
)
UNKNOWN_APP = (
    "the application id is not found in that tenant: check PARTNER_CENTER_CLIENT_ID and "
    f"PARTNER_CENTER_TENANT_ID ({GUIDE}, step 1)"
)
NO_MFA = (
    "the token has no MFA claim: the user who gave consent must sign in with multi-factor "
    f"authentication ({GUIDE}, step 2)"
)
NO_CONSENT = (
    "the application has no consent for Partner Center: grant admin consent to the "
    f"'user_impersonation' permission ({GUIDE}, step 1), then consent again (step 2)"
)
NO_ROLE = (
    "the account lacks the Admin agent role / relationship: the consenting user needs the "
    "Admin agent role in the partner tenant, and the customer a reseller relationship with it"
)
SIGN_IN_UNREACHABLE = (
    "the Microsoft sign-in service (login.microsoftonline.com) is unreachable: check the "
    "network, proxy and firewall of this machine"
)

# Microsoft Entra error codes found in MSAL's `error_description` ("AADSTS700082: …").
_AADSTS = {
    "700082": EXPIRED_REFRESH_TOKEN,  # refresh token expired after inactivity
    "50173": EXPIRED_REFRESH_TOKEN,  # grant revoked (password change, admin revocation)
    "70008": EXPIRED_REFRESH_TOKEN,  # the grant expired or was revoked
    "90002": WRONG_TENANT,  # tenant not found
    "900023": WRONG_TENANT,  # tenant identifier neither a GUID nor a domain
    "7000215": WRONG_SECRET,  # invalid client secret
    "7000222": WRONG_SECRET,  # client secret expired
    "700016": UNKNOWN_APP,  # application not found in the directory
    "65001": NO_CONSENT,  # the user or administrator has not consented
    "50076": NO_MFA,  # MFA required: the stored grant was obtained without it
    "50079": NO_MFA,  # MFA registration required
}
_AADSTS_RE = re.compile(r"AADSTS(\d+)")
_MSAL_TRANSIENT = frozenset({"temporarily_unavailable", "server_error"})
# 21Vianet's Partner Center (contract §1); its agreement resources do not exist (R14).
_NATIONAL_CLOUD_HOSTS = (".microsoftonline.cn",)

_AUTH_DESCRIPTIONS = {
    "static": "a fixed bearer token, PARTNER_CENTER_TOKEN (development, the fake Partner Center)",
    "app_only": "app-only client credentials (the enhanced flow)",
    "app_user": "App+User, the secure application model (refresh token redeemed with MSAL)",
}


def diagnose(exc: BaseException, *, url: str | None = None) -> str:
    """One sentence saying what is wrong, for an error raised while calling Partner Center.

    `url` is PARTNER_CENTER_URL, named when Partner Center cannot be reached.
    """
    if isinstance(exc, SecretError):
        return f"{exc.message} (CREDENTIALS_KEY, {GUIDE}, step 3)"
    if isinstance(exc, AuthFailed):
        return _diagnose_auth(exc)
    if isinstance(exc, Rejected):
        if exc.status == 403:
            return f"{NO_ROLE} (code {exc.code})"
        return (
            f"Partner Center rejected the request (HTTP {exc.status}, code {exc.code}): "
            f"{exc.message}"
        )
    if isinstance(exc, Transient):
        return _diagnose_transient(exc, url)
    if isinstance(exc, ValueError) and "authority" in str(exc).lower():
        # MSAL validates the tenant when it builds its application (OIDC discovery).
        return WRONG_TENANT
    if isinstance(exc, OSError):  # requests' errors while MSAL discovers the tenant
        return SIGN_IN_UNREACHABLE
    return f"unexpected error ({type(exc).__name__}): {exc}"


def _diagnose_auth(exc: AuthFailed) -> str:
    if exc.status is None:  # from the token endpoint (MSAL), not from Partner Center
        for code in _AADSTS_RE.findall(exc.message):
            if code in _AADSTS:
                return f"{_AADSTS[code]} (AADSTS{code})"
        if exc.code == "invalid_grant":
            return EXPIRED_REFRESH_TOKEN
        first_line = exc.message.strip().splitlines()[0] if exc.message.strip() else ""
        return f"Microsoft sign-in refused the credentials ({exc.code}): {first_line}"
    if exc.code == "900421":
        return NO_MFA
    if exc.status == 403:
        return f"{NO_ROLE} (code {exc.code})"
    return (
        f"Partner Center refused the token (code {exc.code}): it must be an App+User token of "
        "the partner tenant for the legacy flow"
    )


def _diagnose_transient(exc: Transient, url: str | None) -> str:
    if exc.code == "token_unavailable":
        return SIGN_IN_UNREACHABLE
    if exc.status is None and exc.code in _MSAL_TRANSIENT:
        return f"the Microsoft sign-in service is temporarily unavailable ({exc.code}): retry later"
    if not exc.answered:
        where = url or "PARTNER_CENTER_URL"
        return f"Partner Center is unreachable at {where}: check PARTNER_CENTER_URL and the network"
    if exc.status == 429:
        wait = f" (Retry-After {exc.retry_after:g} s)" if exc.retry_after is not None else ""
        return f"Partner Center throttles this partner (HTTP 429){wait}: retry later"
    return f"Partner Center is temporarily failing (HTTP {exc.status}): retry later"


@click.group("partner-center")
def partner_center() -> None:
    """The connection to Microsoft Partner Center."""


@partner_center.command("check")
@with_appcontext
def partner_center_check() -> None:
    """Read the agreement metadata with the configured credentials; exit 1 with a diagnosis."""
    settings = current_settings()
    url = settings.partner_center_url
    mode = settings.partner_center_auth_mode
    click.echo(f"Partner Center URL:  {url}")
    click.echo(f"Flow:                {settings.partner_center_flow}")
    click.echo(f"Authentication:      {mode}: {_AUTH_DESCRIPTIONS[mode]}")
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith(_NATIONAL_CLOUD_HOSTS):
        _fail(
            "PARTNER_CENTER_URL points at a national cloud: the agreement endpoints exist only "
            "in the public cloud, https://api.partnercenter.microsoft.com (R14)"
        )
    if mode != "static":
        click.echo(f"Partner tenant:      {settings.partner_center_tenant_id}")
        click.echo(f"Application id:      {settings.partner_center_client_id}")
    try:
        if mode == "app_user":
            source = refresh_token_source(settings, get_engine())
            keeping = (
                "rotated tokens stored encrypted in the database"
                if settings.credentials_key
                else "rotated tokens kept in memory only (no CREDENTIALS_KEY)"
            )
            click.echo(f"Refresh token:       from the {source}; {keeping}")
        if mode == "app_only" and settings.partner_center_flow == "legacy":
            click.echo(
                "Note: the legacy agreement endpoints accept App+User tokens only "
                "(contract §7); forwarding needs PARTNER_CENTER_AUTH=app_user."
            )
        templates = gateway().current_templates(CUSTOMER_AGREEMENT)
    except Exception as exc:  # every failure gets a diagnosis rather than a traceback
        _fail(diagnose(exc, url=url))
    if not templates:
        _fail(f"Partner Center lists no {CUSTOMER_AGREEMENT} template: nothing can be confirmed")
    click.echo(f"Current {CUSTOMER_AGREEMENT} template(s):")
    for item in sorted(templates, key=lambda t: t.version_rank, reverse=True):
        link = f"  {item.agreement_link}" if item.agreement_link else ""
        click.echo(f"  {item.template_id}  versionRank {item.version_rank}{link}")
    click.echo("OK: Partner Center answered with these credentials.")


@partner_center.command("store-refresh-token")
@click.option(
    "--refresh-token",
    prompt="Refresh token",
    hide_input=True,
    envvar="PARTNER_CENTER_NEW_REFRESH_TOKEN",
    help="Read from a hidden prompt (or PARTNER_CENTER_NEW_REFRESH_TOKEN); never echoed.",
)
@with_appcontext
def partner_center_store_refresh_token(refresh_token: str) -> None:
    """Store a new refresh token (after a new consent), encrypted; it replaces the stored one."""
    settings = current_settings()
    if not settings.credentials_key:
        raise click.ClickException(
            "CREDENTIALS_KEY is not set: set PARTNER_CENTER_REFRESH_TOKEN instead and restart"
        )
    token = refresh_token.strip()
    if not token:
        raise click.ClickException("the refresh token is empty")
    with session_scope(get_engine()) as session:
        save_secret(session, name=REFRESH_TOKEN_SECRET, value=token, key=settings.credentials_key)
    click.echo(
        "refresh token stored encrypted; restart the web and worker processes, then run "
        "`intake partner-center check`"
    )


def _fail(diagnosis: str) -> NoReturn:
    click.echo(f"FAILED: {diagnosis}", err=True)
    raise SystemExit(1)
