"""The API's rules that a type cannot state, checked on every decoded body.

Each check is registered for a Struct type (server.api.decoding.register), so it
runs wherever that type occurs: `Settings` in PUT settings and in a new
merchant's `settings`, and the same rules for the settings a decide request
overrides. The rules themselves live with the code that applies them to every
caller (server.merchant_settings for settings, the console included).
"""

from __future__ import annotations

from typing import Any

from engine.model import SETTINGS_PARAMS
from engine.types import DecideRequest, Settings
from server.api.decoding import explain, join, register
from server.api.problems import InvalidParam
from server.api.types import AmazonCredentials, EbayCredentials, ExecuteRequest
from server.merchant_settings import channel_problems, settings_problems


def _params(problems: list[tuple[str, str]]) -> list[InvalidParam]:
    return [InvalidParam(name=name, reason=reason) for name, reason in problems]


def settings_checks(settings: Settings, path: str) -> list[InvalidParam]:
    return _params(settings_problems(settings, f"{path}." if path else ""))


def override_checks(request: DecideRequest, path: str) -> list[InvalidParam]:
    """An override of a merchant setting is checked exactly as the setting itself."""
    if not request.overrides:
        return []
    problems: list[InvalidParam] = []
    overrides = join(path, "overrides")
    for name, value in request.overrides.items():
        if name in SETTINGS_PARAMS:
            found = explain({name: value}, Settings, overrides)
            problems += found
            if not found and name == "enabled_external_channels":
                problems += _params(channel_problems(value, join(overrides, name)))  # type: ignore[arg-type]
    return problems


def grant_checks(body: Any, path: str) -> list[InvalidParam]:
    """eBay and Amazon take exactly one grant: a code to exchange or a refresh token."""
    given = [g for g in ("authorization_code", "refresh_token") if getattr(body, g) is not None]
    if len(given) == 1:
        return []
    reason = "give exactly one of authorization_code or refresh_token"
    return [InvalidParam(join(path, "authorization_code"), reason)]


def install() -> None:
    """Register the checks (idempotent)."""
    from server.api import decoding

    for struct_type, check in (
        (Settings, settings_checks),
        (DecideRequest, override_checks),
        (ExecuteRequest, override_checks),
        (EbayCredentials, grant_checks),
        (AmazonCredentials, grant_checks),
    ):
        if check not in decoding.CHECKS.get(struct_type, []):
            register(struct_type, check)


install()
