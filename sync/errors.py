"""Typed errors every connector raises; callers decide retry, wait or stop from the type alone."""


class SyncError(Exception):
    """Base: `outcome` is how the call is recorded, `code` the remote code, `request_id` for support."""

    outcome = "retryable"

    def __init__(self, message: str, *, code: str = "", request_id: str = ""):
        super().__init__(message)
        self.code = code
        self.request_id = request_id

    def __str__(self):
        text = super().__str__()
        return f"{text} (request id {self.request_id})" if self.request_id else text


class Retryable(SyncError):
    """A platform-side failure: retry with backoff."""


class NetworkError(Retryable):
    """The connection failed, timed out or was dropped mid-answer."""

    outcome = "network"


class MalformedAnswer(Retryable):
    """The answer was not what the protocol promises (bad JSON, truncated, missing fields, unknown
    values). Nothing from it is applied; a later call may well succeed."""

    outcome = "malformed"


class RateLimited(Retryable):
    """The remote side banned calls for `seconds`."""

    outcome = "rate_limited"

    def __init__(self, message: str, *, seconds: float, **kwargs):
        super().__init__(message, **kwargs)
        self.seconds = seconds


class Permanent(SyncError):
    """Retrying cannot help (bad signature, missing permission, invalid arguments)."""

    outcome = "permanent"


class SessionExpired(Permanent):
    """The seller must authorize again: the connection's jobs stop until the owner updates it."""


class BusinessError(SyncError):
    """The remote side refused this one item (e.g. the trade does not exist): record it, do not retry."""

    outcome = "business"


class AddressRefused(Permanent):
    """The destination is not allowed (a local or private network address not on OUTBOUND_ALLOWED_HOSTS,
    or a URL with a bad scheme or a user name): nothing was sent, and retrying cannot help."""


def failure_text(exc: BaseException) -> str:
    """What a run or the message channel records about an error: our own errors as they say it; anything
    else named in words (the job queue, the database) with the detail an operator needs after it."""
    from django.db import DatabaseError
    from django.utils.translation import gettext as _
    from redis.exceptions import RedisError

    if isinstance(exc, SyncError):
        return str(exc)
    if isinstance(exc, RedisError):
        return _("The job queue (Redis) could not be reached: %(detail)s") % {"detail": exc}
    if isinstance(exc, DatabaseError):
        return _("The database refused or did not answer: %(detail)s") % {"detail": exc}
    return _("Unexpected error (%(kind)s): %(detail)s") % {"kind": type(exc).__name__, "detail": exc}
