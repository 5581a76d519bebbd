"""Per-connection circuit breaker (SPEC S6).

Closed: incremental sync runs. When more than 5% of the calls of the last WINDOW failed (with at least
MIN_CALLS calls, so two unlucky calls do not trip it), it opens: incremental sync pauses and an hourly
full pull runs instead. After PROBE_AFTER it goes half open; the next incremental run is the probe: no
failed call closes it, any failure opens it again. Every transition is stored with its reason.
"""
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import NotificationEvent
from merchant.services.notifications import notify

from .models import HEALTHY_CALL_OUTCOMES, ApiCall, BreakerEvent, BreakerState, Connection

WINDOW = timedelta(minutes=5)
MIN_CALLS = 20
THRESHOLD = 0.05
PROBE_AFTER = timedelta(minutes=15)
DEGRADED_EVERY = timedelta(hours=1)


def recent_calls(connection, now=None) -> tuple[int, int, str]:
    """(failed, total, most frequent failure code) over the sliding window."""
    now = now or timezone.now()
    rows = list(ApiCall.objects.filter(connection=connection, at__gt=now - WINDOW).values_list("outcome", "code"))
    failed = [(outcome, code) for outcome, code in rows if outcome not in HEALTHY_CALL_OUTCOMES]
    common = Counter(code or outcome for outcome, code in failed).most_common(1)
    return len(failed), len(rows), common[0][0] if common else ""


def breaker_transition(connection: Connection, to_state: str, reason: str) -> bool:
    """Move the breaker (only from the state the caller saw); record the event. False if it had moved."""
    with transaction.atomic():
        moved = Connection.objects.filter(pk=connection.pk, breaker_state=connection.breaker_state).update(
            breaker_state=to_state, breaker_reason=reason[:300], breaker_changed_at=timezone.now()
        )
        if moved:
            BreakerEvent.objects.create(connection=connection, at=timezone.now(), from_state=connection.breaker_state,
                                        to_state=to_state, reason=reason[:300])
            # A failed probe reopens a breaker that was already open: that is no news.
            if to_state == BreakerState.OPEN and connection.breaker_state == BreakerState.CLOSED:
                notify(merchant=connection.merchant_id, event=NotificationEvent.BREAKER_OPENED,
                       subject_key=f"connection:{connection.pk}",
                       title=_("Connection %(name)s: sync slowed down to an hourly full pull")
                       % {"name": connection.name}, body=reason, url=connection.get_absolute_url())
    if moved:
        connection.breaker_state, connection.breaker_reason = to_state, reason[:300]
    return bool(moved)


def breaker_after_run(connection: Connection, record=None, now=None) -> None:
    """Judge the breaker after a run: trip it, or settle a probe."""
    connection.refresh_from_db(fields=["breaker_state", "breaker_reason", "breaker_changed_at"])
    state = connection.breaker_state
    if state == BreakerState.HALF_OPEN and record is not None:
        if record.failed_calls == 0 and record.outcome == "ok":
            breaker_transition(connection, BreakerState.CLOSED,
                               _("Probe succeeded: %(calls)s calls, none failed.") % {"calls": record.calls})
        else:
            breaker_transition(connection, BreakerState.OPEN,
                               _("Probe failed: %(failed)s of %(calls)s calls failed.")
                               % {"failed": record.failed_calls, "calls": record.calls})
        return
    if state != BreakerState.CLOSED:
        return
    failed, total, code = recent_calls(connection, now)
    if total >= MIN_CALLS and failed / total > THRESHOLD:
        breaker_transition(connection, BreakerState.OPEN, _(
            "%(failed)s of %(total)s calls failed in the last %(minutes)s minutes (%(rate).0f%%, over 5%%); "
            "most often %(code)s."
        ) % {"failed": failed, "total": total, "minutes": int(WINDOW.total_seconds() // 60),
             "rate": 100 * failed / total, "code": code})


def breaker_probe_if_due(connection: Connection, now=None) -> bool:
    """Open for long enough -> half open, so the next incremental run probes. True if it moved."""
    now = now or timezone.now()
    if connection.breaker_state != BreakerState.OPEN or not connection.breaker_changed_at:
        return False
    if now - connection.breaker_changed_at < PROBE_AFTER:
        return False
    return breaker_transition(connection, BreakerState.HALF_OPEN,
                              _("Open for %(minutes)s minutes; probing with one incremental run.")
                              % {"minutes": int(PROBE_AFTER.total_seconds() // 60)})
