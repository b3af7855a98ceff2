"""Who is calling: the admin token or a merchant's API key.

API keys are 32 random bytes, so a single SHA-256 is the right hash (no
dictionary to slow down); the row is found by hash, and the admin token is
compared in constant time. Keys are shown once, at merchant creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import msgspec

API_KEY_PREFIX = "cr_"
# Where the API guard keeps the principal it found, in the request's scope state.
PRINCIPAL_STATE_KEY = "channel_router_principal"


class Principal(msgspec.Struct, frozen=True):
    """An authenticated caller: the admin, or one merchant."""

    is_admin: bool
    merchant_id: str | None = None

    def may_act_for(self, merchant_id: str) -> bool:
        """True for the admin and for the merchant itself."""
        return self.is_admin or self.merchant_id == merchant_id


ADMIN = Principal(is_admin=True)


class Unauthenticated(Exception):
    """No valid bearer token (401)."""


class Forbidden(Exception):
    """A valid token acting on someone else's resources or an admin-only call (403)."""


def new_api_key() -> str:
    """A fresh merchant API key."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The hex SHA-256 stored instead of the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def authorization_header(scope: Any) -> str | None:
    """The raw `Authorization` header of an ASGI scope (read without building all headers)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return None


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def is_admin_token(token: str, admin_token: str | None) -> bool:
    """Constant-time comparison with the configured admin token (none configured: never)."""
    if not admin_token:
        return False
    return hmac.compare_digest(token.encode("utf-8", "surrogateescape"), admin_token.encode())
