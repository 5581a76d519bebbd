"""A Douyin shop (抖店开放平台) client bound to one connection: budgeted, signed, recorded, typed errors.

One call is one POST to `<gateway>/<path>` (e.g. /order/searchList) with the system parameters in the query
(app_key, method, timestamp, v=2, sign, sign_method, access_token) and param_json as the body, and the header
`x-open-no-old-err-code: 1` so every answer carries the new error codes. That is how the official Go SDK sends it
(zsmhub/doudian-sdk core/doudian_op_api_client.go: query params, `Body: paramJsonString`, timestamp epoch
seconds, sign_method hmac-sha256) and the PyPI package too (minibear2021/doudian doudian/core.py `_request`).

The access token expires (7 days); tokens.py keeps it fresh: refreshed an hour before expiry, and once more
when the platform says it expired mid-run, then the call is repeated.
"""
import time
from urllib.parse import urlencode

from django.conf import settings

from sync import anomalies, http
from sync.calls import ApiClient
from sync.errors import MalformedAnswer

from . import tokens
from .errors import SUCCESS, TokenExpired, code_known, code_of, error_from_envelope
from .signing import method_name, param_json, sign

# The token calls carry no access_token (they make one): core/create_token_request.go, refresh_token_request.go.
TOKEN_PATHS = ("/token/create", "/token/refresh")


class DouyinClient(ApiClient):
    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self.base = connection.gateway_url.strip().rstrip("/")
        self.app_key = connection.app_key
        self.secret = connection.app_secret
        # The Go, PHP and PyPI SDKs sign with hmac-sha256; the official Java and Python ones with md5.
        self.sign_method = "md5" if connection.sign_method == "md5" else "hmac-sha256"
        # The log_id of the last answer (what "test the connection" shows).
        self.last_request_id = ""

    def signed_query(self, path: str, body: str, access_token: str = "") -> dict:
        """The system parameters with their signature, for a call whose param_json is `body`."""
        method = method_name(path)
        timestamp = str(int(time.time()))
        query = {"app_key": self.app_key, "method": method, "timestamp": timestamp, "v": "2",
                 "sign": sign(app_key=self.app_key, secret=self.secret, method=method, param_json=body,
                              timestamp=timestamp, sign_method=self.sign_method),
                 "sign_method": self.sign_method}
        if access_token:
            query["access_token"] = access_token
        return query

    def call(self, path: str, params: dict | None = None, *, read=None):
        """One call (two when the token expired mid-run: refreshed, then repeated); returns the answer's `data`,
        or `read(data)` when given. Raises a SyncError subclass; TokenExpired (a SessionExpired) when the
        refreshed token is refused too."""
        if path in TOKEN_PATHS:
            return self.exchange(path, params, read=read, access_token="")
        token = tokens.token_fresh(self)
        try:
            return self.exchange(path, params, read=read, access_token=token)
        except TokenExpired:
            token = tokens.token_refresh(self, stale=token)
            return self.exchange(path, params, read=read, access_token=token)

    def exchange(self, path: str, params: dict | None, *, read, access_token: str):
        """Exactly one recorded HTTP exchange."""
        method = method_name(path)

        def attempt(note):
            # Signed after the budget's wait, so the timestamp is fresh however long that was.
            body = param_json(params)
            query = self.signed_query(path, body, access_token)
            answer = http.request_json(
                "POST", f"{self.base}/{path.lstrip('/')}?{urlencode(query)}", body=body.encode("utf-8"),
                headers={"x-open-no-old-err-code": "1"}, timeout=self.timeout,
                max_bytes=settings.DOUYIN_MAX_RESPONSE_BYTES, redact=tuple(filter(None, (access_token,))))
            note.seconds = answer.seconds
            envelope = self._parse(method, answer)
            note.request_id = str(envelope.get("log_id") or "")[:64]
            self.last_request_id = note.request_id
            data = envelope.get("data")
            anomalies.observe_answer(connection=self.connection, method=method, body=data,
                                     request_id=note.request_id)
            return read(data) if read else data

        return self.recorded(method, attempt)

    def _parse(self, method: str, answer: http.Answer) -> dict:
        envelope = self.json_object(method, answer)
        if "code" not in envelope:
            raise MalformedAnswer(f"answer to {method} is not a Douyin envelope", code="malformed-envelope")
        if code_of(envelope) != SUCCESS:
            error = error_from_envelope(envelope)
            anomalies.observe_error_code(connection=self.connection, method=method, code=error.code,
                                         known=code_known(envelope), request_id=error.request_id)
            raise error
        return envelope

    def call_with_retry(self, path: str, params: dict | None = None, *, read=None, attempts: int = 6,
                        max_ban_wait: float = 600.0):
        """Like call(), but waits out bans and retries retryable failures with backoff (sync.retry)."""
        return self.retrying(method_name(path), lambda: self.call(path, params, read=read), attempts=attempts,
                             max_ban_wait=max_ban_wait)
