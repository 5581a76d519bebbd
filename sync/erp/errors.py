"""An ERP bridge's HTTP answers -> typed errors, as docs/erp-bridge.md ("Errors") defines them.

Error texts carry the status, the error code (a protocol token) and the request id, never the body's
`message`: error texts reach pages every role reads, and a base URL pointing at some other internal service
would otherwise show what that service says."""
import json
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from sync.errors import BusinessError, MalformedAnswer, Permanent, RateLimited, Retryable, SyncError

DEFAULT_RETRY_AFTER = 60
# A bridge asking for more than an hour is treated as asking for an hour: the next dispatch tries again.
MAX_RETRY_AFTER = 3600
# Statuses that say "not now" rather than "never": retried like a 5xx.
RETRYABLE_4XX = {408, 409, 425}
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class CursorExpired(BusinessError):
    """The bridge no longer keeps the changes after this cursor (410 cursor_expired): read from the start."""


class UnsupportedKind(BusinessError):
    """The bridge serves no change feed of this kind (404 unsupported_kind): that kind is skipped."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); a minute when absent or unreadable."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


def _token(value) -> str:
    value = str(value or "")
    return value if _TOKEN.fullmatch(value) else ""


def _error_body(body: bytes) -> tuple[str, str]:
    """(code, request id) of an {"error": {...}} body, each only when it is a plain token; blanks otherwise."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "", ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return _token(error.get("code")), _token(error.get("request_id"))


# The error codes docs/erp-bridge.md ("Errors") names; a bridge may send others, which are raised as unusual.
KNOWN_CODES = {"bad_signature", "unknown_key", "key_revoked", "unsupported_kind", "cursor_expired"}


def error_code(body: bytes) -> str:
    """The code of an {"error": {...}} body when it is a plain token, else ""."""
    return _error_body(body)[0]


def error_from_answer(status: int, body: bytes, headers: dict, what: str) -> SyncError:
    """The typed error for a non-2xx answer to `what` (e.g. "GET /changes/stock")."""
    code, request_id = _error_body(body)
    request_id = request_id or _token(headers.get("X-Request-Id"))
    label = f"HTTP {status}" + (f" {code}" if code else "")
    text = f"ERP bridge answered {label} to {what}"
    kwargs = {"code": label, "request_id": request_id}
    if status == 429:
        return RateLimited(text, seconds=retry_after_seconds(headers.get("Retry-After")), **kwargs)
    if status >= 500 or status in RETRYABLE_4XX:
        return Retryable(text, **kwargs)
    if status == 410 and code == "cursor_expired":
        return CursorExpired(text, **kwargs)
    if status == 404 and code == "unsupported_kind":
        return UnsupportedKind(text, **kwargs)
    if 400 <= status < 500:
        # Bad credentials, a wrong base URL, a request the bridge cannot read: the owner must act.
        return Permanent(text, **kwargs)
    return MalformedAnswer(text, **kwargs)
