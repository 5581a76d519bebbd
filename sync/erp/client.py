"""An ERP bridge client bound to one connection (docs/erp-bridge.md): budgeted, signed like our own Open API,
recorded per call, typed errors.

`call()` makes exactly one HTTP call; the `*_with_retry` methods are what pipelines use: they wait out
429s (every worker of the connection waits, through the shared budget) and retry other retryable
failures with backoff.
"""
import json
import logging
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings

from merchant.api import signing
from sync import anomalies, http
from sync.calls import ApiClient
from sync.errors import MalformedAnswer

from .errors import KNOWN_CODES, error_code, error_from_answer

log = logging.getLogger(__name__)

KINDS = ("products", "prices", "batches", "stock", "customers")
PAGE_LIMIT = 200
MAX_LIMIT = 500
# A page may run past `limit` to keep one product's batches together, but not without bound.
MAX_PAGE_ITEMS = 2000
MAX_CURSOR_LENGTH = 1000
ORDER_STATUSES = ("accepted", "duplicate", "rejected")


@dataclass
class ChangesPage:
    items: list
    next_cursor: str
    has_more: bool


@dataclass
class OrderAnswer:
    order_no: str
    status: str  # accepted, duplicate or rejected
    message: str = ""


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(body: bytes, what: str):
    """The JSON of an answer; numbers with a fraction as Decimal (money is never a float).
    Raises MalformedAnswer."""
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedAnswer(f"answer to {what} is not JSON; {len(body)} bytes",
                              code="malformed-json") from exc


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class ErpClient(ApiClient):
    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self.base = connection.gateway_url.strip().rstrip("/")
        self.key = connection.app_key
        self.secret = connection.app_secret

    # The contract's calls

    def ping(self) -> dict:
        """GET /ping: the bridge's answer object (name, version), for "test the connection" (which shows
        none of it: a page never shows what a remote side said)."""
        return self.call("GET", "/ping", read=lambda body: self._object(body, "GET /ping"))

    def changes(self, kind: str, *, cursor: str = "", limit: int = PAGE_LIMIT) -> ChangesPage:
        """One page of the `kind` change feed after `cursor` ("" = from the start)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        query = [("limit", str(min(max(1, limit), MAX_LIMIT)))] + ([("cursor", cursor)] if cursor else [])
        what = f"GET /changes/{kind}"
        return self.call("GET", f"/changes/{kind}", query=query,
                         read=lambda body: self._page(body, what, cursor))

    def orders_send(self, orders: list[dict]) -> list[OrderAnswer]:
        """POST /orders: one answer per order sent (an order the answer leaves out is not in the list)."""
        sent = {order["order_no"] for order in orders}
        return self.call("POST", "/orders", payload={"orders": orders},
                         read=lambda body: self._order_answers(body, sent))

    def changes_with_retry(self, kind: str, **kwargs) -> ChangesPage:
        return self._with_retry(lambda: self.changes(kind, **kwargs), f"GET /changes/{kind}")

    def orders_send_with_retry(self, orders: list[dict]) -> list[OrderAnswer]:
        # Safe to repeat: the bridge answers "duplicate" for an order it already has (docs/erp-bridge.md).
        return self._with_retry(lambda: self.orders_send(orders), "POST /orders")

    def ping_with_retry(self) -> dict:
        return self._with_retry(self.ping, "GET /ping", attempts=2)

    # One call

    def signed_headers(self, method: str, path: str, query: list, body: bytes) -> dict:
        stamp, nonce = str(int(time.time())), uuid.uuid4().hex
        canonical = signing.canonical_string(method=method, path=path, query_pairs=query, timestamp=stamp,
                                             nonce=nonce, body=body)
        return {signing.HEADER_KEY: self.key, signing.HEADER_TIMESTAMP: stamp, signing.HEADER_NONCE: nonce,
                signing.HEADER_SIGNATURE: signing.signature(self.secret, canonical)}

    def call(self, method: str, path: str, *, query: list | None = None, payload=None, read):
        """One call; returns `read(body)` of a 2xx answer. Raises a SyncError subclass on failure; `read`
        checks the answer inside the call, so an answer that fails it is recorded as a failed call."""
        query = query or []
        url = self.base + path + (f"?{urlencode(query, quote_via=quote)}" if query else "")
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"),
                                                      default=_json_default).encode("utf-8")
        what = f"{method} {path}"

        def attempt(note):
            # Sign the path as sent: the base URL may carry a path of its own (https://erp/bridge/v1).
            headers = self.signed_headers(method, urlsplit(url).path, query, body)
            answer = http.request_json(method, url, headers=headers, body=body if payload is not None else None,
                                       timeout=self.timeout, max_bytes=settings.ERP_MAX_RESPONSE_BYTES)
            note.seconds = answer.seconds
            note.request_id = str(answer.headers.get("X-Request-Id") or "")
            if not 200 <= answer.status < 300:
                code = error_code(answer.body)
                anomalies.observe_error_code(connection=self.connection, method=what, code=code,
                                             known=code in KNOWN_CODES, request_id=note.request_id)
                raise error_from_answer(answer.status, answer.body, answer.headers, what)
            self._observe(what, answer.body, note.request_id)
            return read(answer.body)

        return self.recorded(what, attempt)

    def _observe(self, what: str, body: bytes, request_id: str) -> None:
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            anomalies.observe_not_json(connection=self.connection, method=what, body=body, request_id=request_id)
            return
        anomalies.observe_answer(connection=self.connection, method=what, body=payload, request_id=request_id)

    def _with_retry(self, attempt, what: str, *, attempts: int = 6, max_ban_wait: float = 600.0):
        return self.retrying(what, attempt, attempts=attempts, max_ban_wait=max_ban_wait)

    # Reading answers

    @staticmethod
    def _object(body: bytes, what: str) -> dict:
        payload = read_json(body, what)
        if not isinstance(payload, dict):
            raise MalformedAnswer(f"answer to {what} is not a JSON object", code="malformed-json")
        return payload

    def _page(self, body: bytes, what: str, cursor: str) -> ChangesPage:
        payload = self._object(body, what)
        items, next_cursor, has_more = payload.get("items"), payload.get("next_cursor"), payload.get("has_more")
        if not isinstance(items, list):
            raise MalformedAnswer(f'answer to {what} lacks the "items" list', code="missing-field")
        if len(items) > MAX_PAGE_ITEMS:
            raise MalformedAnswer(f"answer to {what} has {len(items)} items, more than {MAX_PAGE_ITEMS}",
                                  code="too-many-items")
        if not isinstance(next_cursor, str) or len(next_cursor) > MAX_CURSOR_LENGTH:
            raise MalformedAnswer(f'answer to {what}: "next_cursor" must be a string of at most '
                                  f"{MAX_CURSOR_LENGTH} characters", code="bad-field")
        if not isinstance(has_more, bool):
            raise MalformedAnswer(f'answer to {what}: "has_more" must be true or false', code="bad-field")
        if has_more and (not items or next_cursor == cursor):
            # Following it would ask for the same page forever.
            raise MalformedAnswer(f"answer to {what} says has_more but its cursor did not move", code="stuck-cursor")
        return ChangesPage(items=items, next_cursor=next_cursor, has_more=has_more)

    def _order_answers(self, body: bytes, sent: set) -> list[OrderAnswer]:
        payload = self._object(body, "POST /orders")
        results = payload.get("results")
        if not isinstance(results, list):
            raise MalformedAnswer('answer to POST /orders lacks the "results" list', code="missing-field")
        answers = []
        for result in results:
            if not isinstance(result, dict) or result.get("status") not in ORDER_STATUSES \
                    or not isinstance(result.get("order_no"), str):
                raise MalformedAnswer("answer to POST /orders has an unreadable result", code="bad-field")
            if result["order_no"] in sent:
                message = str(result.get("message") or "")[:300]
                answers.append(OrderAnswer(result["order_no"], result["status"], message))
        return answers
