"""Domain errors of the service layer, each mapped to an HTTP problem in `problems.py`."""

from __future__ import annotations


class NotFound(Exception):
    """The named resource does not exist (404)."""


class Conflict(Exception):
    """The resource already exists (409)."""


class InvalidInput(Exception):
    """Well-formed JSON that breaks a rule of the API (422), naming the field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidFields(InvalidInput):
    """Well-formed JSON breaking rules in several fields (422): (field, reason) each.
    `field` is the first of them, for callers that show one."""

    def __init__(self, message: str, fields: list[tuple[str, str]]) -> None:
        super().__init__(message, fields[0][0] if fields else "body")
        self.fields = fields


class Unavailable(Exception):
    """A dependency the request needs is not usable right now (503, with Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Exception):
    """The caller wrote more than its budget allows (429, with Retry-After)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamFailed(Exception):
    """A marketplace answered with a transient failure after retries (502)."""


class ClientDisconnected(Exception):
    """The client went away before its request body was complete (not a server error)."""
