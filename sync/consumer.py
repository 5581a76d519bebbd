"""The consumer loop's state across connections: one client per connection, permission asked once,
failures backed off per connection, and each hour's work recorded as one run."""
import logging
import time

from django.db.models import F
from django.utils import timezone

from .breaker import breaker_after_run
from .calls import CallCounter
from .marketplaces import ADAPTERS, adapter_class, client_for, marketplace_for
from .marketplaces.base import CHANNEL_POLL
from .errors import Permanent, SyncError, failure_text
from .pipelines.messages import messages_consume_once, messages_permit
from .models import Connection, RunOutcome, SyncModule, SyncRun
from .runs import MESSAGE_RUN_SPAN, connection_stop, stop_reason

log = logging.getLogger(__name__)

RUN_SPAN = MESSAGE_RUN_SPAN
BACKOFF_MAX = 60.0


def idle_sleep_next(current: float, received: bool, *, floor: float, ceiling: float) -> float:
    """The pause before the next consume: none while messages flow, then `floor`, doubling while batches
    come back empty up to `ceiling`. Every consume call spends the connection's call budget, which the
    order polls share, so a quiet channel must not take most of it."""
    if received:
        return 0.0
    return min(ceiling, max(floor, current * 2 if current else floor))


class Consumer:
    def __init__(self, only=None, client_factory=client_for, clock=time.monotonic):
        self.only = set(only or [])
        self.client_factory = client_factory
        self.clock = clock
        self.state = {}

    def _connections(self):
        qs = Connection.objects.filter(kind__in=list(ADAPTERS), is_enabled=True, stopped_reason="",
                                       messages_enabled=True)
        return qs.filter(pk__in=self.only) if self.only else qs

    def _state(self, connection):
        state = self.state.get(connection.pk)
        if state is None or state["record"].started_at < timezone.now() - RUN_SPAN:
            if state is not None:
                self._close(state, RunOutcome.OK)
            counter = CallCounter()
            market = marketplace_for(connection, self.client_factory(connection, counter=counter))
            state = {
                "market": market, "counter": counter, "permitted": False,
                "record": SyncRun.objects.create(connection=connection, module=SyncModule.MESSAGES, mode="consume",
                                                 trigger="consumer", started_at=timezone.now()),
                "retry_at": 0.0, "failures": 0, "counted": (0, 0),
            }
            self.state[connection.pk] = state
        return state

    def poll_all(self) -> dict:
        results = {}
        for connection in self._connections():
            # Platforms that push their messages to our callback (Douyin) have nothing to take here.
            if adapter_class(connection.kind).channel == CHANNEL_POLL:
                results[connection.pk] = self.poll(connection)
        return results

    def poll(self, connection) -> dict:
        state = self._state(connection)
        if self.clock() < state["retry_at"]:
            return {"received": 0, "waiting": True}
        try:
            if not state["permitted"]:
                messages_permit(state["market"])
                state["permitted"] = True
            summary = messages_consume_once(connection, state["market"])
            state["failures"] = 0
        except Permanent as exc:
            connection_stop(connection, stop_reason(exc, connection))
            self._close(state, RunOutcome.STOPPED, str(exc))
            self.state.pop(connection.pk, None)
            return {"received": 0, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one connection's trouble must not stop the consumer
            state["failures"] += 1
            state["retry_at"] = self.clock() + min(BACKOFF_MAX, 2 ** state["failures"])
            if isinstance(exc, SyncError):
                log.warning("message channel of connection %s: %s", connection.pk, exc)
            else:
                log.exception("message channel of connection %s failed", connection.pk)
            text = failure_text(exc)
            self._count(state, errors=[text])
            return {"received": 0, "error": text}
        if summary["received"]:
            self._count(state, summary=summary)
        return summary

    def _count(self, state, summary=None, errors=()):
        record = state["record"]
        calls, failed = state["counter"].calls, state["counter"].failed
        seen_calls, seen_failed = state["counted"]
        state["counted"] = (calls, failed)
        summary = summary or {}
        SyncRun.objects.filter(pk=record.pk).update(
            calls=F("calls") + (calls - seen_calls), failed_calls=F("failed_calls") + (failed - seen_failed),
            fetched=F("fetched") + summary.get("fetched", 0), created=F("created") + summary.get("created", 0),
            updated=F("updated") + summary.get("updated", 0), unchanged=F("unchanged") + summary.get("unchanged", 0),
            windows=F("windows") + (1 if summary else 0), finished_at=timezone.now(),
        )
        new_errors = list(summary.get("errors", [])) + list(errors)
        if new_errors:
            record.refresh_from_db(fields=["errors"])
            SyncRun.objects.filter(pk=record.pk).update(errors=(record.errors + new_errors)[-20:])
        if summary.get("received") and not errors:
            Connection.objects.filter(pk=record.connection_id).update(last_success_at=timezone.now())
        if errors:
            record.refresh_from_db()
            breaker_after_run(record.connection)

    def _close(self, state, outcome, error=""):
        record = state["record"]
        record.refresh_from_db()
        record.outcome = outcome
        record.finished_at = timezone.now()
        if error:
            record.errors = (record.errors + [error])[-20:]
        record.save()
