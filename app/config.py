"""Settings read from the environment, with safe defaults for the embedded development mode.

One `Settings` object feeds Flask, SQLAlchemy, Celery and the Partner Center client, so every
process (web, worker, beat, CLI) agrees on the same values.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"

ENVIRONMENTS = ("development", "testing", "production")
FLOWS = ("legacy", "enhanced")
# How the portal authenticates to Partner Center (contract §7); "" chooses from what is set.
AUTH_MODES = ("static", "app_user", "app_only")


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or inconsistent; the process must not start."""


def normalize_database_url(url: str) -> str:
    """Map the usual `DATABASE_URL` spellings onto the drivers this project installs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Every setting the portal reads; `from_env` builds it, `create_app(config)` may override."""

    env: str = "development"
    instance_dir: Path = DEFAULT_INSTANCE_DIR
    # Secrets are left out of repr(), so a logged Settings never shows them.
    secret_key: str = field(default="", repr=False)
    database_url: str = ""
    celery_broker_url: str = ""
    partner_center_url: str = "http://127.0.0.1:5050"
    partner_center_flow: str = "enhanced"
    # The fake accepts any bearer.
    partner_center_token: str = field(default="dev-static-token", repr=False)  # noqa: S105
    partner_center_tenant_id: str = ""
    partner_center_client_id: str = ""
    partner_center_client_secret: str = field(default="", repr=False)
    partner_center_refresh_token: str = field(default="", repr=False)
    partner_center_auth: str = ""  # one of AUTH_MODES, or "" to choose (partner_center_auth_mode)
    # Fernet key(s), comma-separated, the first encrypting: secrets stored in the database.
    credentials_key: str = field(default="", repr=False)
    partner_center_timeout_seconds: float = 20.0
    default_phone_region: str = "KR"
    forward_lease_seconds: int = 120
    forward_retry_base_seconds: float = 5.0
    forward_retry_cap_seconds: float = 900.0
    forward_max_attempts: int = 12
    forward_sweep_seconds: float = 30.0
    forward_requeue_seconds: float = 60.0
    forward_short_countdown_max_seconds: float = 60.0
    template_sync_seconds: float = 3600.0
    broker_publish_timeout_seconds: float = 1.0
    # Cap of requests per second to Partner Center for all workers together; 0 = no cap.
    upstream_max_requests_per_second: float = 0.0
    # Redis holding the shared cap; empty = the broker's when that is Redis, else in-process.
    redis_url: str = ""
    session_cookie_secure: bool = False
    trusted_hosts: str = ""  # comma-separated host names the portal answers to
    session_idle_minutes: int = 480
    session_absolute_hours: int = 24
    login_limit_per_account: str = "10 per 15 minutes"
    login_limit_per_address: str = "50 per 15 minutes"
    retention_days: int = 365
    # Enhanced flow (R20): first look at a new attestation after the base, then ever less often.
    enhanced_poll_base_seconds: float = 60.0
    enhanced_poll_cap_seconds: float = 3600.0
    # Where customers accept (the acceptance page); empty: Microsoft's, or the fake's /mca/.
    partner_center_acceptance_url: str = ""
    proxy_count: int = 0  # reverse proxies in front of the web processes (X-Forwarded-For)
    extra: Mapping[str, Any] = field(default_factory=dict)

    # Environment variable name -> field name (and how to parse it).
    _ENV_MAP = {
        "INTAKE_ENV": "env",
        "INSTANCE_DIR": "instance_dir",
        "SECRET_KEY": "secret_key",
        "DATABASE_URL": "database_url",
        "CELERY_BROKER_URL": "celery_broker_url",
        "PARTNER_CENTER_URL": "partner_center_url",
        "PARTNER_CENTER_FLOW": "partner_center_flow",
        "PARTNER_CENTER_TOKEN": "partner_center_token",
        "PARTNER_CENTER_TENANT_ID": "partner_center_tenant_id",
        "PARTNER_CENTER_CLIENT_ID": "partner_center_client_id",
        "PARTNER_CENTER_CLIENT_SECRET": "partner_center_client_secret",
        "PARTNER_CENTER_REFRESH_TOKEN": "partner_center_refresh_token",
        "PARTNER_CENTER_AUTH": "partner_center_auth",
        "CREDENTIALS_KEY": "credentials_key",
        "PARTNER_CENTER_TIMEOUT_SECONDS": "partner_center_timeout_seconds",
        "DEFAULT_PHONE_REGION": "default_phone_region",
        "FORWARD_LEASE_SECONDS": "forward_lease_seconds",
        "FORWARD_RETRY_BASE_SECONDS": "forward_retry_base_seconds",
        "FORWARD_RETRY_CAP_SECONDS": "forward_retry_cap_seconds",
        "FORWARD_MAX_ATTEMPTS": "forward_max_attempts",
        "FORWARD_SWEEP_SECONDS": "forward_sweep_seconds",
        "FORWARD_REQUEUE_SECONDS": "forward_requeue_seconds",
        "TEMPLATE_SYNC_SECONDS": "template_sync_seconds",
        "BROKER_PUBLISH_TIMEOUT_SECONDS": "broker_publish_timeout_seconds",
        "UPSTREAM_MAX_REQUESTS_PER_SECOND": "upstream_max_requests_per_second",
        "REDIS_URL": "redis_url",
        "SESSION_COOKIE_SECURE": "session_cookie_secure",
        "TRUSTED_HOSTS": "trusted_hosts",
        "SESSION_IDLE_MINUTES": "session_idle_minutes",
        "SESSION_ABSOLUTE_HOURS": "session_absolute_hours",
        "LOGIN_LIMIT_PER_ACCOUNT": "login_limit_per_account",
        "LOGIN_LIMIT_PER_ADDRESS": "login_limit_per_address",
        "RETENTION_DAYS": "retention_days",
        "ENHANCED_POLL_BASE_SECONDS": "enhanced_poll_base_seconds",
        "ENHANCED_POLL_CAP_SECONDS": "enhanced_poll_cap_seconds",
        "PARTNER_CENTER_ACCEPTANCE_URL": "partner_center_acceptance_url",
        "PROXY_COUNT": "proxy_count",
    }

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Read settings from `environ` (default: the process environment), then `overrides`."""
        environ = os.environ if environ is None else environ
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for var, name in cls._ENV_MAP.items():
            raw = environ.get(var)
            if raw is None or raw == "":
                continue
            values[name] = _parse(types[name], raw, var)
        extra: dict[str, Any] = {}
        for key, value in (overrides or {}).items():
            name = key.lower()
            if name in types and name != "extra":
                values[name] = value
            else:
                extra[key] = value  # passed through to Flask's config (e.g. TESTING, WTF_*)
        settings = cls(**values, extra=extra)
        return settings.with_defaults()

    def with_defaults(self) -> Settings:
        """Fill the embedded defaults that depend on other settings, then check the result."""
        instance_dir = Path(self.instance_dir).resolve()
        database_url = self.database_url or f"sqlite:///{instance_dir / 'intake.sqlite'}"
        broker_url = self.celery_broker_url or f"sqla+sqlite:///{instance_dir / 'broker.sqlite'}"
        redis_url = self.redis_url
        if not redis_url and broker_url.startswith(("redis://", "rediss://")):
            # A distributed deployment already runs Redis for the broker: share the cap there.
            redis_url = broker_url
        settings = replace(
            self,
            instance_dir=instance_dir,
            database_url=normalize_database_url(database_url),
            celery_broker_url=broker_url,
            redis_url=redis_url,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Fail fast on settings that are unsafe or contradictory."""
        if self.env not in ENVIRONMENTS:
            raise ConfigError(
                f"INTAKE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}"
            )
        if self.partner_center_flow not in FLOWS:
            raise ConfigError(
                f"PARTNER_CENTER_FLOW must be one of {', '.join(FLOWS)}, "
                f"not {self.partner_center_flow!r}"
            )
        self._check_partner_center_auth()
        rate = self.upstream_max_requests_per_second
        if not (math.isfinite(rate) and rate >= 0):
            raise ConfigError(
                "UPSTREAM_MAX_REQUESTS_PER_SECOND must be 0 (no cap) or a positive number, "
                f"not {rate!r}"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        if self.retention_days < 30:
            raise ConfigError("RETENTION_DAYS must be at least 30")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ConfigError("SECRET_KEY must be set to at least 32 random characters")
        if self.env == "production" and not self.trusted_host_list:
            raise ConfigError(
                "TRUSTED_HOSTS must name the host names the portal answers to in production, "
                "e.g. TRUSTED_HOSTS=intake.example.com"
            )

    def _check_partner_center_auth(self) -> None:
        if self.partner_center_auth not in ("", *AUTH_MODES):
            raise ConfigError(
                f"PARTNER_CENTER_AUTH must be one of {', '.join(AUTH_MODES)} (or empty to choose "
                f"from the other settings), not {self.partner_center_auth!r}"
            )
        mode = self.partner_center_auth_mode
        if mode in ("app_user", "app_only"):
            required = {
                "PARTNER_CENTER_TENANT_ID": self.partner_center_tenant_id,
                "PARTNER_CENTER_CLIENT_ID": self.partner_center_client_id,
                "PARTNER_CENTER_CLIENT_SECRET": self.partner_center_client_secret,
            }
            if mode == "app_user":
                required["PARTNER_CENTER_REFRESH_TOKEN"] = self.partner_center_refresh_token
            missing = [var for var, value in required.items() if not value.strip()]
            if missing:
                raise ConfigError(
                    f"PARTNER_CENTER_AUTH={mode} needs {', '.join(missing)} "
                    "(see docs/PARTNER-CENTER.md)"
                )
        if self.credentials_key:
            _check_fernet_keys(self.credentials_key)
        elif mode == "app_user" and self.env == "production":
            raise ConfigError(
                "CREDENTIALS_KEY is required in production with PARTNER_CENTER_AUTH=app_user: "
                "the rotated refresh token must be stored encrypted"
            )

    @property
    def partner_center_auth_mode(self) -> str:
        """PARTNER_CENTER_AUTH, or the mode the other Partner Center settings imply."""
        if self.partner_center_auth:
            return self.partner_center_auth
        if self.partner_center_refresh_token and self.partner_center_client_id:
            return "app_user"
        if self.partner_center_client_id and self.partner_center_client_secret:
            return "app_only"
        return "static"

    @property
    def trusted_host_list(self) -> list[str]:
        """TRUSTED_HOSTS as a list."""
        return [host.strip() for host in self.trusted_hosts.split(",") if host.strip()]

    @property
    def is_sqlite(self) -> bool:
        """True when the portal's database is a SQLite file."""
        return self.database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The configured SECRET_KEY, or in development a random one kept under `instance/`."""
        if self.secret_key:
            return self.secret_key
        if self.env == "production":
            raise ConfigError("SECRET_KEY is required in production")
        path = self.instance_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


def _check_fernet_keys(value: str) -> None:
    """Raise ConfigError unless `value` is one or more comma-separated Fernet keys."""
    # Imported here: only deployments that store secrets pay for loading cryptography.
    from cryptography.fernet import Fernet

    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        raise ConfigError("CREDENTIALS_KEY holds no key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            # Never echo the value: it is a secret, and a near-miss one at that.
            raise ConfigError(
                f"CREDENTIALS_KEY key number {position} is not a valid Fernet key (32 url-safe "
                "base64-encoded bytes); generate one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`'
            ) from None


def _parse(kind: Any, raw: str, var: str) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            return _bool(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise ConfigError(f"{var}={raw!r} is not a valid {kind}") from exc
    return raw
