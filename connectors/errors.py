"""Errors every connector raises, so callers can tell "try again later" from "this will never work".

The message is always the marketplace's own error text (or a short description of a transport
failure); it never contains a token or a client secret.
"""

from __future__ import annotations


class ChannelError(Exception):
    """A marketplace or store call failed."""

    def __init__(
        self,
        message: str,
        *,
        api: str,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.api = api
        self.status = status
        self.transient = transient
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.api} HTTP {self.status}" if self.status is not None else self.api
        return f"{where}: {self.message}"


class TransientChannelError(ChannelError):
    """Timeouts, 5xx, 429 or throttling that outlived the retries: worth retrying later.

    `retry_after` carries the server's wait hint (seconds) when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        api: str,
        status: int | None = None,
        transient: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, api=api, status=status, transient=True, retry_after=retry_after)


class PermanentChannelError(ChannelError):
    """A 4xx other than 429, GraphQL userErrors, or a refused body: retrying will not help."""


class AuthenticationError(PermanentChannelError):
    """The token exchange or refresh was refused, or a token stayed unauthorised after a refresh."""


class InventoryConflict(PermanentChannelError):
    """A store quantity is not what the caller expected: someone else changed it (a compare-and-set
    failed, or a retried move finds a level that shows neither the move nor its absence).
    Nothing was changed; `expected` and `actual` are the quantities compared."""

    def __init__(self, message: str, *, api: str, expected: int, actual: int) -> None:
        super().__init__(message, api=api, status=200)
        self.expected = expected
        self.actual = actual
