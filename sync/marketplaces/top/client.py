"""A TOP client bound to one connection: budgeted, signed, recorded, typed errors.

`call()` makes exactly one HTTP call; `call_with_retry()` is what pipelines use: it waits out bans and
retries platform failures with backoff, so a marketplace failing 10% of calls costs time, not orders.
"""
import logging

from django.conf import settings
from django.utils import timezone

from sync import anomalies, http
from sync.calls import ApiClient
from sync.errors import MalformedAnswer

from .errors import code_known, error_from_envelope
from .signing import sign
from .times import to_top

log = logging.getLogger(__name__)

ROUTER_PATH = "/router/rest"


def response_key(method: str) -> str:
    """`taobao.trades.sold.get` -> `trades_sold_get_response`; `tmall.item.price.update` keeps `tmall_`."""
    name = method[len("taobao."):] if method.startswith("taobao.") else method
    return name.replace(".", "_") + "_response"


def router_url(gateway: str) -> str:
    """The gateway as entered, or its host with /router/rest added when the path is missing."""
    gateway = gateway.strip()
    return gateway if gateway.rstrip("/").endswith(ROUTER_PATH) else gateway.rstrip("/") + ROUTER_PATH


class TopClient(ApiClient):
    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self.url = router_url(connection.gateway_url)
        self.app_key = connection.app_key
        self.secret = connection.app_secret
        self.session = connection.session
        self.sign_method = connection.sign_method

    def signed_params(self, method: str, params: dict) -> tuple[dict, dict]:
        """(system params with sign, business params), empty values dropped as TOP requires."""
        system = {
            "method": method, "app_key": self.app_key, "session": self.session,
            "timestamp": to_top(timezone.now()), "format": "json", "v": "2.0", "sign_method": self.sign_method,
        }
        business = {k: str(v) for k, v in params.items() if v is not None and v != ""}
        system["sign"] = sign({**system, **business}, self.secret, self.sign_method)
        return system, business

    def call(self, method: str, params: dict | None = None, *, read=None):
        """One call; returns the `<name>_response` object, or `read(body)` when given. Raises a SyncError
        subclass on failure. `read` checks the answer inside the call, so an answer that fails it
        (MalformedAnswer) is recorded as a failed call with its request id, and retried like one."""
        def attempt(note):
            # Signed after the budget's wait, so the timestamp is fresh however long that was.
            system, business = self.signed_params(method, params or {})
            # Everything goes in the POST body (TOP accepts it there), so no URL, proxy log or error text
            # ever carries the session token or the signature.
            answer = http.post_form(self.url, data={**system, **business}, timeout=self.timeout,
                                    max_bytes=settings.TOP_MAX_RESPONSE_BYTES)
            note.seconds = answer.seconds
            body = self._parse(method, answer)
            note.request_id = str(body.get("request_id") or "")
            anomalies.observe_answer(connection=self.connection, method=method, body=body,
                                     request_id=note.request_id)
            return read(body) if read else body

        return self.recorded(method, attempt)

    def _parse(self, method: str, answer: http.Answer) -> dict:
        payload = self.json_object(method, answer)
        if isinstance(payload.get("error_response"), dict):
            error = error_from_envelope(payload["error_response"])
            anomalies.observe_error_code(connection=self.connection, method=method, code=error.code,
                                         known=code_known(payload["error_response"]), request_id=error.request_id)
            raise error
        body = payload.get(response_key(method))
        if not isinstance(body, dict):
            raise MalformedAnswer(f"answer to {method} lacks {response_key(method)}", code="malformed-envelope")
        return body

    def call_with_retry(self, method: str, params: dict | None = None, *, read=None, attempts: int = 6,
                        max_ban_wait: float = 600.0):
        """Like call(), but waits out bans (for up to max_ban_wait seconds in all; they are not failures
        of the call) and retries other retryable failures with jittered exponential backoff, re-raising
        after `attempts` of them."""
        return self.retrying(method, lambda: self.call(method, params, read=read), attempts=attempts,
                             max_ban_wait=max_ban_wait)
