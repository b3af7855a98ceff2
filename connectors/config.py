"""Where the connectors send their calls and how patiently (docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

_SECRET_FIELDS = ("ebay_client_secret", "amazon_client_secret", "shopify_client_secret")


class ApiConfig(msgspec.Struct, frozen=True):
    """Base URLs, the service's own OAuth application credentials and the retry budget."""

    ebay_base_url: str = "https://api.ebay.com"
    amazon_base_url: str = "https://sellingpartnerapi-na.amazon.com"
    amazon_token_url: str = "https://api.amazon.com/auth/o2/token"
    shopify_base_url: str | None = None
    ebay_client_id: str = ""
    ebay_client_secret: str = ""
    amazon_client_id: str = ""
    amazon_client_secret: str = ""
    # The Shopify app the console's "Connect" installs (OAuth authorization-code grant).
    shopify_client_id: str = ""
    shopify_client_secret: str = ""
    timeout_seconds: float = 10.0
    max_attempts: int = 4
    backoff_base_seconds: float = 0.2
    backoff_max_seconds: float = 8.0

    @property
    def ebay_token_url(self) -> str:
        """eBay's OAuth token endpoint under the configured base URL."""
        return self.ebay_base_url.rstrip("/") + "/identity/v1/oauth2/token"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiConfig:
        """Read the CHANNEL_ROUTER_* variables; unset or empty ones keep the defaults."""

        def get(name: str, default: str) -> str:
            value = env.get(f"CHANNEL_ROUTER_{name}", "").strip()
            return value or default

        base = cls()
        shopify = env.get("CHANNEL_ROUTER_SHOPIFY_BASE_URL", "").strip()
        return cls(
            ebay_base_url=get("EBAY_BASE_URL", base.ebay_base_url).rstrip("/"),
            amazon_base_url=get("AMAZON_BASE_URL", base.amazon_base_url).rstrip("/"),
            amazon_token_url=get("AMAZON_TOKEN_URL", base.amazon_token_url),
            shopify_base_url=shopify.rstrip("/") or None,
            ebay_client_id=get("EBAY_CLIENT_ID", ""),
            ebay_client_secret=get("EBAY_CLIENT_SECRET", ""),
            amazon_client_id=get("AMAZON_CLIENT_ID", ""),
            amazon_client_secret=get("AMAZON_CLIENT_SECRET", ""),
            shopify_client_id=get("SHOPIFY_CLIENT_ID", ""),
            shopify_client_secret=get("SHOPIFY_CLIENT_SECRET", ""),
        )

    def __repr__(self) -> str:
        """Like the default, but client secrets are masked (configs end up in logs)."""
        parts = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            shown = "'***'" if name in _SECRET_FIELDS and value else repr(value)
            parts.append(f"{name}={shown}")
        return f"ApiConfig({', '.join(parts)})"
