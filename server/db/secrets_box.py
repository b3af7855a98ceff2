"""Encryption at rest for channel credentials.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key derived by
HKDF from CHANNEL_ROUTER_SECRET_KEY, so any string of enough entropy works as
the configured secret and the key never appears in a stored row.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"channel-router credentials v1"
_FINGERPRINT_INFO = b"channel-router key fingerprint v1"


def _derive(secret: str, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(
        secret.encode()
    )


class SecretBoxError(Exception):
    """Stored ciphertext cannot be opened with the configured key."""


class SecretBox:
    """Seals and opens byte strings with a key derived from the service secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("CHANNEL_ROUTER_SECRET_KEY must be at least 16 characters")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, _INFO, 32)))
        # Derived apart from the encryption key: storing it tells nothing about that key.
        self.fingerprint = _derive(secret, _FINGERPRINT_INFO, 16).hex()

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: bytes) -> str:
        """Ciphertext as ASCII text, fit for a Text column."""
        return self._fernet.encrypt(plaintext).decode("ascii")

    def open(self, ciphertext: str) -> bytes:
        """The plaintext; SecretBoxError when the key is wrong or the row was altered."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii"))
        except InvalidToken as exc:
            raise SecretBoxError("stored credentials cannot be decrypted with this key") from exc
