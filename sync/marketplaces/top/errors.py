"""TOP's error envelope -> typed errors, as the table in top-protocol.md ("Responses") says.

The error texts name the code, the sub-code and a fixed reason of ours, never the envelope's msg / sub_msg:
those are remote text, and error texts reach pages that every role reads (a gateway URL pointing at some
other service would otherwise show that service's words there)."""
import re

from sync.errors import BusinessError, Permanent, RateLimited, Retryable, SessionExpired, SyncError

_BAN_SECONDS = re.compile(r"(\d+)\s*more\s+seconds", re.IGNORECASE)
RATE_LIMIT_CODES = {4, 5, 6, 7, 8}
DEFAULT_BAN_SECONDS = 60
# A sub-code is a protocol token ("isv.trade-not-exist"); anything else in that field is not shown.
_SUB_CODE = re.compile(r"[A-Za-z0-9._:-]{1,80}")
REASONS = {
    3: "upload failed", 7: "call limit reached", 10: "service unavailable", 11: "permission missing",
    15: "remote service error", 21: "method missing", 22: "invalid method", 25: "invalid signature",
    26: "session missing", 27: "session invalid or expired", 28: "app key missing", 29: "invalid app key",
    31: "invalid timestamp", 40: "parameter missing", 41: "invalid parameter",
}
# Sub-codes the pipelines meet (their part before ":"), so a failed push says why in our words.
SUB_REASONS = {
    "isv.item-sku-not-exist": "the SKU does not exist on the marketplace",
    "isv.item-not-exist": "the item does not exist on the marketplace",
    "isv.trade-not-exist": "the trade does not exist on the marketplace",
    "isv.invalid-quantity": "the quantity was not accepted",
    "isv.invalid-parameter": "a parameter was not accepted",
    "isv.missing-parameter": "a parameter is missing",
    "isv.logistics-offline-service-error": "the marketplace refused the shipment",
}


# Sub-code namespaces of TOP's error table (top-protocol.md): isv = the app's request, isp = the platform,
# accesscontrol = call limits; another namespace is not one the table knows.
SUB_CODE_NAMESPACES = ("isv.", "isp.", "accesscontrol.")


def code_known(envelope: dict) -> bool:
    """Is this error envelope's code (and sub-code namespace) one the table above knows?"""
    try:
        code = int(envelope.get("code"))
    except (TypeError, ValueError):
        return False
    sub_code = str(envelope.get("sub_code") or "")
    if sub_code and not sub_code.startswith(SUB_CODE_NAMESPACES):
        return False
    return code in REASONS or code in RATE_LIMIT_CODES


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
    sub_code = sub_code if _SUB_CODE.fullmatch(sub_code) else ""
    label = f"{code}" + (f" {sub_code}" if sub_code else "")
    request_id = str(envelope.get("request_id") or "")
    request_id = request_id if _SUB_CODE.fullmatch(request_id) else ""
    reason = ("rate limited" if code in RATE_LIMIT_CODES
              else SUB_REASONS.get(sub_code.split(":")[0]) or REASONS.get(code, "refused"))
    message = f"TOP error {label}: {reason}"
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
