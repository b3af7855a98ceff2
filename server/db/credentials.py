"""Encrypted channel accounts per merchant and channel (write-only towards the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from server.db.secrets_box import SecretBox
from server.db.tables import Tables
from server.errors import Unavailable


class CredentialStore:
    """Encrypted channel accounts per merchant and channel."""

    def __init__(self, tables: Tables, box: SecretBox | None) -> None:
        self._table = tables.channel_credential
        self._pending = tables.pending_connection
        self._box = box

    def require_writable(self) -> None:
        """Unavailable (503) unless accounts can be sealed: check before exchanging a code."""
        self._require_box()

    async def begin(self, merchant_id: str, channel: str) -> None:
        """Record a connection under way, before a single-use code is exchanged: a
        database that cannot take this write fails here, while the code is still good."""
        self._require_box()
        pending = self._pending
        await (
            pending.insert(
                pending(
                    connection_key=f"{merchant_id}:{channel}",
                    merchant_id=merchant_id,
                    channel=channel,
                    started_at=datetime.now(UTC),
                )
            )
            .on_conflict(
                target=pending.connection_key, action="DO UPDATE", values=[pending.started_at]
            )
            .run()
        )

    async def abandon(self, merchant_id: str, channel: str) -> None:
        """Forget a connection under way (the exchange was refused)."""
        pending = self._pending
        await pending.delete().where(pending.connection_key == f"{merchant_id}:{channel}").run()

    def _require_box(self) -> SecretBox:
        if self._box is None:
            raise Unavailable("credentials cannot be stored: CHANNEL_ROUTER_SECRET_KEY is not set")
        return self._box

    async def save(self, merchant_id: str, channel: str, account: Any) -> None:
        """Seal the msgspec-encoded account and upsert it; the connection is no longer pending."""
        box = self._require_box()
        ciphertext = box.seal(msgspec.json.encode(account))
        table = self._table
        now = datetime.now(UTC)
        # One statement: two concurrent connects of the same account cannot collide.
        await (
            table.insert(
                table(
                    credential_key=f"{merchant_id}:{channel}",
                    merchant_id=merchant_id,
                    channel=channel,
                    ciphertext=ciphertext,
                    updated_at=now,
                )
            )
            .on_conflict(
                target=table.credential_key,
                action="DO UPDATE",
                values=[table.ciphertext, table.updated_at],
            )
            .run()
        )
        await self.abandon(merchant_id, channel)

    async def load(self, merchant_id: str, channel: str) -> bytes | None:
        """The decrypted msgspec JSON of the stored account, or None."""
        table = self._table
        rows = await (
            table.select(table.ciphertext)
            .where(table.credential_key == f"{merchant_id}:{channel}")
            .run()
        )
        if not rows:
            return None
        return self._require_box().open(rows[0]["ciphertext"])

    async def connected_at(self, merchant_id: str, channel: str) -> datetime | None:
        """When the account was last stored, or None when there is none."""
        table = self._table
        rows = await (
            table.select(table.updated_at)
            .where(table.credential_key == f"{merchant_id}:{channel}")
            .run()
        )
        return rows[0]["updated_at"] if rows else None

    async def delete(self, merchant_id: str, channel: str) -> bool:
        """Forget the account; True when there was one."""
        table = self._table
        key = f"{merchant_id}:{channel}"
        if not await table.exists().where(table.credential_key == key).run():
            return False
        await table.delete().where(table.credential_key == key).run()
        return True
