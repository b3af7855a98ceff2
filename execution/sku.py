"""The SKU a campaign lists a product under on a marketplace.

Deterministic, so a retried job finds the listing it made instead of making another; at most
50 characters (eBay's inventory item SKU limit); made only of letters, digits and `-`, and
never parsed back: merchant, product and campaign ids may contain `_` or `-` themselves, so
the SKU is a digest of them, not a join.
"""

from __future__ import annotations

import hashlib

MAX_SKU_LENGTH = 50
PREFIX = "cr-"


def campaign_sku(merchant_id: str, campaign_id: str, channel: str, variant_id: str) -> str:
    """`cr-<variant>-<digest>`: the variant id (shortened, for a human reading the
    marketplace's list) and 20 hex digits of sha256 over every id, separated by NUL so that
    no two id tuples give the same text."""
    digest = hashlib.sha256(
        "\x00".join((merchant_id, campaign_id, channel, variant_id)).encode()
    ).hexdigest()[:20]
    readable = "".join(ch for ch in variant_id if ch.isascii() and ch.isalnum())[:24]
    sku = f"{PREFIX}{readable}-{digest}" if readable else f"{PREFIX}{digest}"
    assert len(sku) <= MAX_SKU_LENGTH
    return sku
