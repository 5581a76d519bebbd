"""TOP's error envelope -> typed errors, as the table in top-protocol.md ("Responses") says."""
import re

from sync.errors import BusinessError, Permanent, RateLimited, Retryable, SessionExpired, SyncError

_BAN_SECONDS = re.compile(r"(\d+)\s*more\s+seconds", re.IGNORECASE)
RATE_LIMIT_CODES = {4, 5, 6, 7, 8}
DEFAULT_BAN_SECONDS = 60


def ban_seconds(sub_msg: str) -> int:
    """Seconds from "This ban will last for N more seconds"; a minute when the text says nothing."""
    match = _BAN_SECONDS.search(sub_msg or "")
    return int(match.group(1)) if match else DEFAULT_BAN_SECONDS


def error_from_envelope(envelope: dict) -> SyncError:
    """The typed error for an `error_response` body."""
    try:
        code = int(envelope.get("code"))
    except (TypeError, ValueError):
        code = -1
    sub_code = str(envelope.get("sub_code") or "")
    text = " / ".join(str(v) for v in (envelope.get("msg"), envelope.get("sub_msg")) if v)
    label = f"{code}" + (f" {sub_code}" if sub_code else "")
    request_id = str(envelope.get("request_id") or "")
    message = f"TOP error {label}: {text or 'no message'}"
    kwargs = {"code": label, "request_id": request_id}
    if code in RATE_LIMIT_CODES:
        return RateLimited(message, seconds=ban_seconds(str(envelope.get("sub_msg") or "")), **kwargs)
    if code in (26, 27) or "session" in sub_code:
        return SessionExpired(message, **kwargs)
    if code in (10, 15) and sub_code.startswith("isp."):
        return Retryable(message, **kwargs)
    if code == 15 or sub_code.startswith("isv."):
        if code in (40, 41):
            return Permanent(message, **kwargs)
        return BusinessError(message, **kwargs)
    if code in (10, 3):  # service unavailable / upload failures: platform side
        return Retryable(message, **kwargs)
    return Permanent(message, **kwargs)
