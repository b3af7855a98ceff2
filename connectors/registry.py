"""Which connector class serves which channel. Adding a channel = one module + one line here."""

from __future__ import annotations

from connectors.amazon import AmazonChannel
from connectors.base import ExternalChannel, StoreConnector
from connectors.config import ApiConfig
from connectors.ebay import EbayChannel
from connectors.http import ApiClient
from connectors.shopify import ShopifyStore

EXTERNAL_CHANNELS: dict[str, type[ExternalChannel]] = {
    "ebay": EbayChannel,
    "amazon": AmazonChannel,
}
STORES: dict[str, type[StoreConnector]] = {
    "shopify": ShopifyStore,
}


def external_channel(name: str, api: ApiClient, config: ApiConfig) -> ExternalChannel:
    """The connector for external channel `name`; ValueError naming the known ones otherwise."""
    try:
        cls = EXTERNAL_CHANNELS[name]
    except KeyError:
        known = ", ".join(sorted(EXTERNAL_CHANNELS))
        raise ValueError(f"unknown external channel {name!r} (known: {known})") from None
    return cls(api, config)


def store(name: str, api: ApiClient, config: ApiConfig) -> StoreConnector:
    """The connector for store platform `name`; ValueError naming the known ones otherwise."""
    try:
        cls = STORES[name]
    except KeyError:
        known = ", ".join(sorted(STORES))
        raise ValueError(f"unknown store platform {name!r} (known: {known})") from None
    return cls(api, config)
