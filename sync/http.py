"""The one outbound HTTP layer: a pooled requests session per process, timeouts on every call, and
transport failures turned into NetworkError. Connectors add protocol meaning and record each call."""
import re
import time
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter

from .errors import NetworkError

# (connect, read) seconds: a gateway that accepts but never answers must not hold a worker.
DEFAULT_TIMEOUT = (5.0, 30.0)
USER_AGENT = "merchant-hub-sync/1.0"

_session: requests.Session | None = None


def session() -> requests.Session:
    global _session
    if _session is None:
        s = requests.Session()
        s.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        _session = s
    return _session


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    # Only the headers a connector reads (Retry-After, X-Request-Id), not the whole set.
    headers: dict = field(default_factory=dict)


_QUERY = re.compile(r"\?[^\s'\")]*")


def _without_query(text: str) -> str:
    """Drop query strings from an error text: they may hold a session token or a signature."""
    return _QUERY.sub("?…", text)


def post_form(url: str, *, data: dict, timeout=DEFAULT_TIMEOUT) -> Answer:
    """POST form-encoded `data`; raises NetworkError for transport failures,
    including a body cut short (the server dropped the connection)."""
    started = time.monotonic()
    try:
        response = session().post(
            url, data=data, timeout=timeout,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )
        body = response.content
    except requests.RequestException as exc:
        raise NetworkError(f"{type(exc).__name__}: {_without_query(str(exc))}", code=type(exc).__name__) from exc
    return Answer(status=response.status_code, body=body, seconds=time.monotonic() - started)


def request_json(method: str, url: str, *, headers: dict, body: bytes | None = None,
                 timeout=DEFAULT_TIMEOUT) -> Answer:
    """Send `body` (already JSON-encoded bytes, or None for a GET) with `headers`; the answer keeps its
    Retry-After and X-Request-Id headers. Raises NetworkError for transport failures, as post_form does.
    Callers put credentials in headers only, so the URL (which error texts may quote) carries no secret."""
    started = time.monotonic()
    sent = {"Accept": "application/json", **headers}
    if body is not None:
        sent["Content-Type"] = "application/json;charset=UTF-8"
    try:
        response = session().request(method, url, data=body, timeout=timeout, headers=sent)
        content = response.content
    except requests.RequestException as exc:
        raise NetworkError(f"{type(exc).__name__}: {_without_query(str(exc))}", code=type(exc).__name__) from exc
    kept = {name: response.headers[name] for name in ("Retry-After", "X-Request-Id") if name in response.headers}
    return Answer(status=response.status_code, body=content, seconds=time.monotonic() - started, headers=kept)
