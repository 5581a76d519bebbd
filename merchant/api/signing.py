"""How an Open API request is signed (SPEC A1). The ERP side does the same (docs/ and the tests).

    canonical = METHOD \\n path \\n sorted query \\n timestamp \\n nonce \\n hex SHA-256 of the body
    X-Api-Signature = hex HMAC-SHA256(secret, canonical)

The sorted query is `key=value` pairs joined by `&`, sorted by key then value, each part
percent-encoded (RFC 3986: letters, digits and `-_.~` stay as they are).
"""
import hashlib
import hmac
from urllib.parse import quote

HEADER_KEY = "X-Api-Key"
HEADER_TIMESTAMP = "X-Api-Timestamp"
HEADER_NONCE = "X-Api-Nonce"
HEADER_SIGNATURE = "X-Api-Signature"


def canonical_query(pairs) -> str:
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


def canonical_string(*, method: str, path: str, query_pairs, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, canonical_query(query_pairs), timestamp, nonce,
                      hashlib.sha256(body).hexdigest()])


def signature(secret: str, canonical: str) -> str:
    return hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()
