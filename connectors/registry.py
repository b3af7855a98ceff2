"""Which connector class serves which channel. Adding a channel = one module + one line here."""

from __future__ import annotations

from typing import TypeVar

from connectors.amazon import AmazonChannel
from connectors.base import ExternalChannel, StoreConnector
from connectors.config import ApiConfig
from connectors.ebay import EbayChannel
from connectors.http import ApiClient
from connectors.shopify import ShopifyStore

_C = TypeVar("_C")

EXTERNAL_CHANNELS: dict[str, type[ExternalChannel]] = {
    "ebay": EbayChannel,
    "amazon": AmazonChannel,
}
STORES: dict[str, type[StoreConnector]] = {
    "shopify": ShopifyStore,
}


def external_channel(name: str, api: ApiClient, config: ApiConfig) -> ExternalChannel:
    """The connector for external channel `name`; ValueError naming the known ones otherwise."""
    return _known(EXTERNAL_CHANNELS, "external channel", name)(api, config)


def store(name: str, api: ApiClient, config: ApiConfig) -> StoreConnector:
    """The connector for store platform `name`; ValueError naming the known ones otherwise."""
    return _known(STORES, "store platform", name)(api, config)


def _known(table: dict[str, type[_C]], kind: str, name: str) -> type[_C]:
    """table[name], or a ValueError that lists the names the table knows."""
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table))
        raise ValueError(f"unknown {kind} {name!r} (known: {known})") from None
