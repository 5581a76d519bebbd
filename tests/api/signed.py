"""Signed Open API requests through Django's test client, computed as an ERP would."""
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

from merchant.api import signing


def signed_headers(key: str, secret: str, method: str, url: str, body: bytes = b"", *, timestamp=None,
                   nonce=None) -> dict:
    parts = urlsplit(url)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or uuid.uuid4().hex
    canonical = signing.canonical_string(method=method, path=parts.path,
                                         query_pairs=parse_qsl(parts.query, keep_blank_values=True),
                                         timestamp=stamp, nonce=nonce, body=body)
    return {
        "HTTP_X_API_KEY": key, "HTTP_X_API_TIMESTAMP": stamp, "HTTP_X_API_NONCE": nonce,
        "HTTP_X_API_SIGNATURE": signing.signature(secret, canonical),
    }
