"""Console forms that change a merchant's settings: one field at a time, through the
API's own path (`server.merchant_settings.replace_settings`), so the same rules hold."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request

from engine.types import Settings
from server.api.types import EffectiveSettings
from server.console import pages
from server.errors import InvalidInput
from server.merchant_settings import replace_settings

_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


class SettingsRejected(Exception):
    """The change breaks a settings rule; `field` names the setting, as the API would."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


async def effective(request: Request[Any, Any, Any], merchant_id: str) -> EffectiveSettings:
    """The settings as GET /v1/merchants/{id}/settings shows them."""
    return EffectiveSettings.of(await pages.services(request).merchants.settings(merchant_id))


async def change(request: Request[Any, Any, Any], merchant_id: str, **changes: Any) -> Settings:
    """Store the merchant's settings with `changes` applied; fields never set stay unset
    (so the override file and the policy still decide them)."""
    merchants = pages.services(request).merchants
    given = (await merchants.settings(merchant_id)).given()
    given.update(changes)
    try:
        settings = msgspec.convert(given, Settings)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        field = match.group("path") if match else next(iter(changes))
        raise SettingsRejected(message[: match.start()] if match else message, field) from exc
    try:
        return await replace_settings(merchants, merchant_id, settings)
    except InvalidInput as exc:
        raise SettingsRejected(str(exc), exc.field) from exc
