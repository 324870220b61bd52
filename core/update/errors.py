"""Errors of the update path: checking, downloading, verifying, unpacking.

Every one is a one-line message fit for ``updates.last_error`` and the
``update-failed`` event; none of them leaves anything installed.
"""

from __future__ import annotations

from nodekeeper.core.errors import OperationFailed


class UpdateError(OperationFailed):
    """An update step failed; the node keeps running its current version.

    ``retry_after``: seconds the server asked us to wait (``Retry-After``),
    for the check scheduler; None when it did not say.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DownloadError(UpdateError):
    """The transfer failed or stalled; a partial file may be kept for resuming."""


class VerificationError(UpdateError):
    """Data did not match what the signed metadata promised; it was discarded."""


class NotEnoughSpace(UpdateError):
    """The disk holding downloads/ cannot take the artifact safely."""


class UnpackError(UpdateError):
    """A release archive is malformed or tries to escape its folder."""
