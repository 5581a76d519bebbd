"""Douyin's answer envelope -> typed errors, as the error table of the open platform says (op.jinritemai.com docs,
guide 212/1427; /work/shared/reference/douyin-protocol.md "Answer"). With `x-open-no-old-err-code: 1` every answer
carries `code` (10000 = success), `msg`, `sub_code`, `sub_msg` and `log_id`.

As on TOP (sync.marketplaces.top.errors), our error texts name the code, the sub-code and a fixed reason of ours,
never the envelope's msg / sub_msg: those are remote words, and error texts reach pages every role reads."""
import re

from sync.errors import (
    BusinessError,
    Permanent,
    RateLimited,
    Retryable,
    SessionExpired,
    SyncError,
)

SUCCESS = 10000
RETRYABLE_CODES = {20000, 20001}  # service error / service timeout
RATE_LIMITED = 60000
# "请求过于频繁，请10秒后重试" / "isp.traffic-limited:10" / "... 10 seconds": the first number is the wait.
_BAN_SECONDS = re.compile(r"(\d+)\s*(?:秒|s\b|sec|second)", re.IGNORECASE)
_SUB_CODE_SECONDS = re.compile(r":(\d+)$")
DEFAULT_BAN_SECONDS = 10  # Douyin limits are per second (QPS): a short default wait is enough
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,80}")
TOKEN_SUB_CODES = ("isv.access-token-expired", "isv.access-token-no-existed")
REASONS = {
    20000: "service error", 20001: "service timeout", 30001: "permission missing",
    40001: "system parameter missing", 40002: "business parameter missing", 40003: "invalid system parameter",
    40004: "invalid business parameter", 50001: "platform failure", 50002: "business failure",
    60000: "rate limited", 70000: "method offline",
}
SUB_REASONS = {
    "isv.access-token-expired": "access token expired",
    "isv.access-token-no-existed": "access token unknown",
    "isv.signature-invalid": "invalid signature",
    "isv.timestamp-invalid": "timestamp out of range",
    "isv.app-key-invalid": "invalid app key",
}


class TokenExpired(SessionExpired):
    """The access token expired or is unknown: the client refreshes it once and repeats the call; raised to the
    pipelines (a SessionExpired, so the connection stops) only when the refresh did not help."""


def code_of(envelope: dict) -> int:
    try:
        return int(envelope.get("code"))
    except (TypeError, ValueError):
        return -1


def ban_seconds(envelope: dict) -> float:
    """The wait a 60000 answer asks for: from sub_msg ("请10秒后重试"), or the sub_code's ":N"; else the default."""
    match = _BAN_SECONDS.search(str(envelope.get("sub_msg") or ""))
    if match:
        return float(match.group(1))
    match = _SUB_CODE_SECONDS.search(str(envelope.get("sub_code") or ""))
    return float(match.group(1)) if match else float(DEFAULT_BAN_SECONDS)


def code_known(envelope: dict) -> bool:
    return code_of(envelope) in REASONS


def error_from_envelope(envelope: dict) -> SyncError:
    """The typed error for an answer whose code is not 10000."""
    code = code_of(envelope)
    sub_code = str(envelope.get("sub_code") or "")
    sub_code = sub_code if _TOKEN.fullmatch(sub_code) else ""
    request_id = str(envelope.get("log_id") or "")
    request_id = request_id if _TOKEN.fullmatch(request_id) else ""
    label = f"{code}" + (f" {sub_code}" if sub_code else "")
    reason = SUB_REASONS.get(sub_code.split(":")[0]) or REASONS.get(code, "unknown error code")
    message = f"Douyin error {label}: {reason}"
    kwargs = {"code": label, "request_id": request_id}
    if code in RETRYABLE_CODES:
        return Retryable(message, **kwargs)
    if code == RATE_LIMITED:
        return RateLimited(message, seconds=ban_seconds(envelope), **kwargs)
    if sub_code.split(":")[0] in TOKEN_SUB_CODES:
        return TokenExpired(message, **kwargs)
    if code in (40003, 40001, 40002, 30001, 70000):
        # Bad signature or timestamp, a missing parameter (the same for every item), no permission, a method
        # taken offline: repeating the same call cannot help.
        return Permanent(message, **kwargs)
    if code in (40004, 50002):
        # One item refused (an unknown order, a SKU code the shop does not have, a bad quantity).
        return BusinessError(message, **kwargs)
    # 50001 (platform failure) and codes the table does not know: platform side, retry; the code is recorded.
    return Retryable(message, **kwargs)
