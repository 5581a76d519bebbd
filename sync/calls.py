"""The one recording path every outbound client shares (marketplaces and the ERP bridge): each call waits for
the connection's budget, is counted for the run, recorded (database row, metrics, log line) with its outcome,
duration and remote request id, and a ban the remote side asks for is put on the shared budget.

A client subclasses ApiClient and wraps each HTTP exchange in `recorded(what, attempt)`; `attempt(note)` makes
the call, fills `note.seconds` / `note.request_id` as it learns them, and raises a SyncError subclass on failure.
"""
import json
import time
from dataclasses import dataclass

from . import anomalies, http
from .errors import MalformedAnswer, RateLimited, Retryable, SyncError
from .models import HEALTHY_CALL_OUTCOMES
from .ratelimit import CallBudget
from .retry import with_retry
from .stats import call_record


class CallCounter:
    """Counts calls and failed calls for a run summary."""

    def __init__(self):
        self.calls = 0
        self.failed = 0


@dataclass
class CallNote:
    """What an attempt learned about its call, for the record (also when it fails)."""

    seconds: float = 0.0
    request_id: str = ""


class ApiClient:
    """A client bound to one connection: budgeted, counted, recorded, typed errors."""

    def __init__(self, connection, *, budget: CallBudget | None = None, counter: CallCounter | None = None,
                 timeout=http.DEFAULT_TIMEOUT, sleep=time.sleep):
        self.connection = connection
        self.budget = budget or CallBudget(connection.pk, connection.calls_per_minute, sleep=sleep)
        self.counter = counter or CallCounter()
        self.timeout = timeout
        self._sleep = sleep

    def recorded(self, what: str, attempt):
        """Make one call through `attempt(note)` and record it; returns what attempt returns, re-raises its
        SyncError after recording the outcome."""
        self.budget.acquire()
        self.counter.calls += 1
        note, outcome, code = CallNote(), "ok", ""
        try:
            return attempt(note)
        except SyncError as exc:
            outcome, code = exc.outcome, exc.code
            note.request_id = exc.request_id or note.request_id
            if exc.outcome not in HEALTHY_CALL_OUTCOMES:
                self.counter.failed += 1
            if isinstance(exc, RateLimited):
                self.budget.ban(exc.seconds)
            raise
        finally:
            call_record(connection_id=self.connection.pk, method=what, outcome=outcome, seconds=note.seconds,
                        code=code, request_id=note.request_id)

    def json_object(self, what: str, answer: http.Answer) -> dict:
        """The JSON object of a 200 answer. Raises Retryable for a 5xx, MalformedAnswer for another status, a
        body that is not JSON (noted as an unusual answer) or JSON that is not an object."""
        if answer.status >= 500:
            raise Retryable(f"HTTP {answer.status} from the gateway", code=f"HTTP {answer.status}")
        if answer.status != 200:
            raise MalformedAnswer(f"HTTP {answer.status} from the gateway", code=f"HTTP {answer.status}")
        try:
            payload = json.loads(answer.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            anomalies.observe_not_json(connection=self.connection, method=what, body=answer.body)
            raise MalformedAnswer(f"answer to {what} is not JSON; {len(answer.body)} bytes",
                                  code="malformed-json") from exc
        if not isinstance(payload, dict):
            raise MalformedAnswer(f"answer to {what} is not a JSON object", code="malformed-json")
        return payload

    def retrying(self, what: str, attempt, *, attempts: int = 6, max_ban_wait: float = 600.0):
        """attempt() until it succeeds: bans waited out (up to max_ban_wait s in all), other retryable failures
        retried with jittered backoff and re-raised after `attempts` of them (sync.retry)."""
        return with_retry(attempt, what, connection_id=self.connection.pk, sleep=self._sleep, attempts=attempts,
                          max_ban_wait=max_ban_wait)
