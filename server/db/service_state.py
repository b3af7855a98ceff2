"""What the service keeps about itself in its database: the credentials key's fingerprint.

Channel credentials are sealed with a key derived from CHANNEL_ROUTER_SECRET_KEY.
Started with another key, the service would run but every stored account would
fail to decrypt at the first campaign. So the first process that opens a
database with a key records that key's fingerprint, and every later process
(serve, worker, up) refuses to start when its key's fingerprint differs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from server.db.secrets_box import SecretBox, SecretBoxError
from server.db.tables import Tables

log = logging.getLogger(__name__)

KEY_FINGERPRINT = "credentials_key_fingerprint"


class CredentialsKeyMismatch(RuntimeError):
    """The configured credentials key is not the one the stored credentials were sealed with."""


def mismatch_message(detail: str) -> str:
    """The refusal, with what to do about it."""
    return (
        f"CHANNEL_ROUTER_SECRET_KEY is not the key this database's channel credentials "
        f"were encrypted with ({detail}). Start with the original key (under `channel-router up` "
        f"it is kept in DATA_DIR/secret.key). If that key is lost, the stored credentials cannot "
        f"be recovered: `channel-router reset --credentials` deletes them so that this key can "
        f"be used, and the merchants connect their accounts again."
    )


async def check_credentials_key(tables: Tables, box: SecretBox | None) -> None:
    """Record the key's fingerprint on first use; CredentialsKeyMismatch when it differs.

    Without a key there is nothing to check (credentials cannot be stored or
    opened). A database from before fingerprints were kept is accepted when
    its stored credentials open with this key.
    """
    if box is None:
        return
    state = tables.service_state
    stored = await _stored_fingerprint(tables)
    if stored is None:
        await _check_existing_credentials(tables, box)
        now = datetime.now(UTC)
        await (
            state.insert(state(name=KEY_FINGERPRINT, value=box.fingerprint, updated_at=now))
            .on_conflict(target=state.name, action="DO NOTHING")
            .run()
        )
        stored = await _stored_fingerprint(tables)  # another process may have won the race
        log.info("recorded the credentials key fingerprint in the database")
    if stored != box.fingerprint:
        raise CredentialsKeyMismatch(
            mismatch_message(
                f"fingerprint recorded in the database {stored[:8]}…, "
                f"configured key {box.fingerprint[:8]}…"
                if stored
                else "no fingerprint could be recorded"
            )
        )


async def forget_credentials(tables: Tables) -> int:
    """Delete every stored channel credential and the key fingerprint; returns how many went."""
    credential = tables.channel_credential
    count: int = await credential.count().run()
    await credential.delete(force=True).run()
    state = tables.service_state
    await state.delete().where(state.name == KEY_FINGERPRINT).run()
    return count


async def _stored_fingerprint(tables: Tables) -> str | None:
    state = tables.service_state
    rows = await state.select(state.value).where(state.name == KEY_FINGERPRINT).run()
    return str(rows[0]["value"]) if rows else None


async def _check_existing_credentials(tables: Tables, box: SecretBox) -> None:
    credential = tables.channel_credential
    rows = await credential.select(credential.ciphertext).limit(1).run()
    if not rows:
        return
    try:
        box.open(rows[0]["ciphertext"])
    except SecretBoxError:
        raise CredentialsKeyMismatch(
            mismatch_message("its stored credentials do not decrypt with the configured key")
        ) from None
