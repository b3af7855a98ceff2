"""Console settings read once from the environment: where the marketplaces' consent pages
live, the service's app ids there, and how long a login lasts (docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

EBAY_AUTH_URL = "https://auth.ebay.com/oauth2/authorize"
AMAZON_AUTH_URL = "https://sellercentral.amazon.com/apps/authorize/consent"

# Where the built-in sandbox serves each consent page (the real paths), for `up`.
SANDBOX_AUTH_PATHS: dict[str, str] = {
    "CHANNEL_ROUTER_EBAY_AUTH_URL": "/oauth2/authorize",
    "CHANNEL_ROUTER_AMAZON_AUTH_URL": "/apps/authorize/consent",
    "CHANNEL_ROUTER_SHOPIFY_AUTH_URL": "",
}
# App identifiers the sandbox accepts, set by `up` when they are not configured.
SANDBOX_APP_ENV = (
    "CHANNEL_ROUTER_AMAZON_APPLICATION_ID",
    "CHANNEL_ROUTER_SHOPIFY_CLIENT_ID",
    "CHANNEL_ROUTER_SHOPIFY_CLIENT_SECRET",
)


def sandbox_auth_env(sandbox_url: str) -> dict[str, str]:
    """The consent-page variables pointing at a sandbox served on `sandbox_url`."""
    base = sandbox_url.rstrip("/")
    return {name: base + path for name, path in SANDBOX_AUTH_PATHS.items()}


@dataclass(frozen=True)
class ConsoleConfig:
    """What the console needs beyond the service config."""

    ebay_auth_url: str = EBAY_AUTH_URL
    # eBay redirects to the URL registered for a RuName; empty = send our callback URL itself,
    # which is what a stand-in (the sandbox) accepts.
    ebay_runame: str = ""
    amazon_auth_url: str = AMAZON_AUTH_URL
    amazon_application_id: str = ""
    # None: the shop's own host, https://{shop}/admin/oauth/authorize.
    shopify_auth_url: str | None = None
    # The console's address as browsers see it (behind a proxy); None = the request's own.
    public_url: str | None = None
    session_hours: float = 8.0
    oauth_state_minutes: float = 10.0

    @property
    def secure_cookies(self) -> bool:
        """Cookies marked Secure when the console is known to be served over HTTPS."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConsoleConfig:
        """Read the CHANNEL_ROUTER_* variables; unset or empty ones keep the defaults."""

        def get(name: str) -> str:
            return env.get(f"CHANNEL_ROUTER_{name}", "").strip()

        base = cls()
        hours = get("CONSOLE_SESSION_HOURS")
        return cls(
            ebay_auth_url=get("EBAY_AUTH_URL") or base.ebay_auth_url,
            ebay_runame=get("EBAY_RUNAME"),
            amazon_auth_url=get("AMAZON_AUTH_URL") or base.amazon_auth_url,
            amazon_application_id=get("AMAZON_APPLICATION_ID"),
            shopify_auth_url=get("SHOPIFY_AUTH_URL").rstrip("/") or None,
            public_url=get("CONSOLE_PUBLIC_URL").rstrip("/") or None,
            session_hours=_positive(hours, base.session_hours, "CONSOLE_SESSION_HOURS"),
        )

    def auth_origins(self) -> list[str]:
        """Origins of the consent pages (the console's CSP lets forms lead there)."""
        urls = [self.ebay_auth_url, self.amazon_auth_url]
        origins = [_origin(u) for u in urls]
        origins.append(
            _origin(self.shopify_auth_url) if self.shopify_auth_url else "https://*.myshopify.com"
        )
        return sorted({o for o in origins if o})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _positive(raw: str, default: float, name: str) -> float:
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"CHANNEL_ROUTER_{name} must be a number of hours, not {raw!r}") from None
    if not value > 0:
        raise ValueError(f"CHANNEL_ROUTER_{name} must be positive")
    return value
