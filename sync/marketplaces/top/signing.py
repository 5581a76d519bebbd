"""Request signing as TOP documents it (../shared/reference/top-protocol.md, "Signing").

All parameters except `sign` (and file uploads) with a non-empty value, sorted by key, concatenated as
key + value, then MD5(secret + s + secret), HMAC-MD5(secret, s) or HMAC-SHA256(secret, s), upper hex.
"""
import hashlib
import hmac
from collections.abc import Mapping

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def signing_string(params: Mapping[str, object]) -> str:
    """The string TOP signs: sorted non-empty `key + value` pairs, `sign` left out."""
    return "".join(
        f"{key}{value}" for key, value in sorted(params.items())
        if key != "sign" and value is not None and value != ""
    )


def sign(params: Mapping[str, object], secret: str, method: str) -> str:
    """Return the upper-case hex signature of `params`; raises ValueError for an unknown method."""
    text = signing_string(params).encode("utf-8")
    key = secret.encode("utf-8")
    if method == "md5":
        return hashlib.md5(key + text + key).hexdigest().upper()
    if method == "hmac":
        return hmac.new(key, text, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, text, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown sign method {method!r}; expected one of {', '.join(SIGN_METHODS)}")


def sign_matches(params: Mapping[str, object], secret: str) -> bool:
    """True when params["sign"] is the right signature for params["sign_method"] (default md5)."""
    method = str(params.get("sign_method") or "md5")
    if method not in SIGN_METHODS:
        return False
    return hmac.compare_digest(str(params.get("sign", "")).upper(), sign(params, secret, method))
