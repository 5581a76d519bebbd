"""Request signing as the Douyin shop open platform (抖店开放平台) defines it (docs/douyin.md; the official Go SDK's
utils/sign_util.go, the PHP SDK's SignUtil.php and the Java SDK's SignUtil agree on it).

param_json is the business parameters as compact JSON with object keys sorted at every level; the signed text
is "app_key"+app_key+"method"+method+"param_json"+param_json+"timestamp"+timestamp+"v"+v, wrapped in the secret
on both sides, then md5 or hmac-sha256 (keyed with the secret), lower-case hex.
"""
import hashlib
import hmac
import json

SIGN_METHODS = ("md5", "hmac-sha256")


def _sorted(value):
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def param_json(params: dict | None) -> str:
    """The business parameters as the platform signs them: compact JSON, keys sorted recursively, non-ASCII
    kept as is ("{}" for none)."""
    return json.dumps(_sorted(params or {}), ensure_ascii=False, separators=(",", ":"))


def method_name(path: str) -> str:
    """`/order/searchList` -> `order.searchList`."""
    return path.strip("/").replace("/", ".")


def signing_string(*, app_key: str, method: str, param_json: str, timestamp: str, v: str = "2") -> str:
    return f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{v}"


def sign(*, app_key: str, secret: str, method: str, param_json: str, timestamp: str, v: str = "2",
         sign_method: str = "hmac-sha256") -> str:
    """The lower-case hex signature; ValueError for an unknown sign method."""
    text = (secret + signing_string(app_key=app_key, method=method, param_json=param_json, timestamp=timestamp,
                                    v=v) + secret).encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(text).hexdigest()
    if sign_method == "hmac-sha256":
        return hmac.new(secret.encode("utf-8"), text, hashlib.sha256).hexdigest()
    raise ValueError(f"unknown sign method {sign_method!r}; expected one of {', '.join(SIGN_METHODS)}")


def sign_matches(*, app_key: str, secret: str, method: str, param_json: str, timestamp: str, v: str, sign_method: str,
                 signature: str) -> bool:
    """True when `signature` is right for these values (md5 when sign_method is empty, as the Java SDK sends)."""
    sign_method = sign_method or "md5"
    if sign_method not in SIGN_METHODS:
        return False
    expected = sign(app_key=app_key, secret=secret, method=method, param_json=param_json, timestamp=timestamp, v=v,
                    sign_method=sign_method)
    return hmac.compare_digest(signature.lower(), expected)


def event_sign(*, app_key: str, secret: str, body: bytes) -> str:
    """The `event-sign` header of a pushed message: md5(app_key + body + app_secret), lower-case hex."""
    return hashlib.md5(app_key.encode("utf-8") + body + secret.encode("utf-8")).hexdigest()


def event_sign_matches(*, app_key: str, secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(signature.strip().lower(), event_sign(app_key=app_key, secret=secret, body=body))
