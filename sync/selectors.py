"""Reads of connection health for the back office (SPEC M2, M12, S6, S7), always scoped to one merchant.

Every function works on a whole list of connections at once so that a dashboard with several connections
costs the same handful of queries as one with a single connection.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Max, Q
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from .models import (
    HEALTHY_CALL_OUTCOMES, ApiCall, BreakerEvent, CallOutcome, Checkpoint, Connection, ConnectionKind, ReconcileReport, RunOutcome, SyncModule, SyncRun,
)

# Calls that count against a connection, as ApiCall.failed and the breaker count them.
FAILED_CALLS = ~Q(outcome__in=HEALTHY_CALL_OUTCOMES)
# Runs the merchant should notice (and may run again): an interrupted one did not finish its work.
FAILED_RUNS = [RunOutcome.FAILED, RunOutcome.STOPPED, RunOutcome.INTERRUPTED]


def connections_for_merchant(merchant):
    """The merchant's connections, by name."""
    return Connection.objects.filter(merchant=merchant).order_by("name", "pk")


def _rate(failed: int, total: int) -> float | None:
    """Failed calls as a percentage of all calls, or None when there were no calls."""
    return round(100 * failed / total, 1) if total else None


@dataclass
class Health:
    """What the dashboard and the connection page say about one connection right now."""

    connection: Connection
    position: datetime | None = None  # end of the last completed incremental window (orders checkpoint)
    last_run_at: datetime | None = None
    lag: timedelta | None = None  # now - position; None before the first pull
    calls_hour: int = 0
    failed_hour: int = 0
    calls_day: int = 0
    failed_day: int = 0
    error_rate_hour: float | None = None
    error_rate_day: float | None = None

    @property
    def lag_minutes(self) -> float | None:
        return round(self.lag.total_seconds() / 60, 1) if self.lag is not None else None


def connections_health(connections, now=None) -> list[Health]:
    """A Health per connection, in the given order (two queries for any number of connections)."""
    now = now or timezone.now()
    connections = list(connections)
    ids = [c.pk for c in connections]
    # How far a connection is behind: the order pull for a marketplace, the change feeds for an ERP bridge.
    module_of = {c.pk: SyncModule.ERP_PULL if c.kind == ConnectionKind.ERP else SyncModule.ORDERS for c in connections}
    checkpoints = {
        cid: (position, last_run)
        for cid, module, position, last_run in Checkpoint.objects.filter(
            connection__in=ids, module__in=[SyncModule.ORDERS, SyncModule.ERP_PULL])
        .values_list("connection_id", "module", "position", "last_run_at")
        if module_of[cid] == module
    }
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(hours=24)
    calls = {
        row["connection_id"]: row
        for row in ApiCall.objects.filter(connection__in=ids, at__gt=day_ago, at__lte=now)
        .values("connection_id")
        .annotate(
            calls_day=Count("pk"), failed_day=Count("pk", filter=FAILED_CALLS),
            calls_hour=Count("pk", filter=Q(at__gt=hour_ago)),
            failed_hour=Count("pk", filter=FAILED_CALLS & Q(at__gt=hour_ago)),
        ).order_by()
    }
    result = []
    for c in connections:
        position, last_run = checkpoints.get(c.pk, (None, None))
        counts = calls.get(c.pk, {})
        health = Health(
            connection=c, position=position, last_run_at=last_run,
            lag=max(now - position, timedelta(0)) if position else None,
            **{k: counts.get(k, 0) for k in ("calls_hour", "failed_hour", "calls_day", "failed_day")},
        )
        health.error_rate_hour = _rate(health.failed_hour, health.calls_hour)
        health.error_rate_day = _rate(health.failed_day, health.calls_day)
        result.append(health)
    return result


def calls_by_method(connection, *, since: datetime) -> list[dict]:
    """Calls since `since` per (method, outcome): dicts with method, outcome, label, n, avg_ms."""
    labels = dict(CallOutcome.choices)
    rows = (
        ApiCall.objects.filter(connection=connection, at__gt=since)
        .values("method", "outcome").annotate(n=Count("pk"), avg_ms=Avg("duration_ms"))
        .order_by("method", "outcome")
    )
    return [{**row, "label": labels.get(row["outcome"], row["outcome"])} for row in rows]


@dataclass
class Series:
    """Chart points of one connection: (bucket start, value) pairs, oldest first."""

    error_rate: list = field(default_factory=list)  # percent of failed calls; 0 when there were no calls
    lag: list = field(default_factory=list)  # minutes behind the bucket's end; 0 before the first pull


STEPS = {"hour": (TruncHour, timedelta(hours=1)), "day": (TruncDay, timedelta(days=1))}


def _bucket_starts(now: datetime, step: str, count: int) -> list[datetime]:
    local = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    if step == "day":
        local = local.replace(hour=0)
    # Step in naive local time so a bucket always starts on the hour/day as the labels say.
    naive = local.replace(tzinfo=None)
    delta = STEPS[step][1]
    return [timezone.make_aware(naive - delta * i) for i in range(count - 1, -1, -1)]


def connections_series(connections, *, step: str = "hour", count: int = 24, now=None) -> dict[int, Series]:
    """Per connection, `count` buckets of `step` ("hour" or "day") up to now, in the current time zone:
    the call error rate and the sync lag at the end of each bucket. Three queries in all.

    The lag history is rebuilt from the completed incremental order runs: after a run the checkpoint
    stood at its window_to, so the lag at time t is t minus the furthest window_to reached by then.
    """
    now = now or timezone.now()
    trunc, delta = STEPS[step]
    starts = _bucket_starts(now, step, count)
    first = starts[0]
    ids = [c.pk for c in connections]

    calls = {}
    for row in (ApiCall.objects.filter(connection__in=ids, at__gte=first, at__lte=now)
                .annotate(bucket=trunc("at")).values("connection_id", "bucket")
                .annotate(n=Count("pk"), failed=Count("pk", filter=FAILED_CALLS)).order_by()):
        calls[row["connection_id"], row["bucket"]] = (row["failed"], row["n"])

    runs = SyncRun.objects.filter(connection__in=ids, module=SyncModule.ORDERS, mode="incremental",
                                  outcome=RunOutcome.OK, window_to__isnull=False)
    reached = {}
    for row in (runs.filter(finished_at__gte=first, finished_at__lte=now).annotate(bucket=trunc("finished_at"))
                .values("connection_id", "bucket").annotate(to=Max("window_to")).order_by()):
        reached[row["connection_id"], row["bucket"]] = row["to"]
    before = dict(runs.filter(finished_at__lt=first).values("connection_id").annotate(to=Max("window_to"))
                  .order_by().values_list("connection_id", "to"))

    result = {}
    for cid in ids:
        series = Series()
        position = before.get(cid)
        for start in starts:
            failed, n = calls.get((cid, start), (0, 0))
            series.error_rate.append((start, _rate(failed, n) or 0))
            to = reached.get((cid, start))
            if to and (position is None or to > position):
                position = to
            end = min(start + delta, now)
            lag = max(end - position, timedelta(0)).total_seconds() / 60 if position else 0
            series.lag.append((start, round(lag, 1)))
        result[cid] = series
    return result


def recent_failed_runs(merchant, limit: int = 5):
    """The latest failed or stopped runs across the merchant's connections."""
    return (
        SyncRun.objects.filter(connection__merchant=merchant, outcome__in=FAILED_RUNS)
        .select_related("connection").order_by("-started_at", "-id")[:limit]
    )


def runs_for(connection, *, module: str = "", outcome: str = ""):
    """The connection's run history, newest first (paginate it); unknown filter values are ignored."""
    runs = SyncRun.objects.filter(connection=connection)
    if module in SyncModule.values:
        runs = runs.filter(module=module)
    if outcome in RunOutcome.values:
        runs = runs.filter(outcome=outcome)
    return runs.order_by("-started_at", "-id")


def connection_detail(connection, now=None) -> dict:
    """Everything the connection page shows besides the connection itself."""
    now = now or timezone.now()
    return {
        "health": connections_health([connection], now=now)[0],
        "checkpoints": list(Checkpoint.objects.filter(connection=connection).order_by("module")),
        "breaker_events": list(BreakerEvent.objects.filter(connection=connection).order_by("-at", "-id")[:20]),
        "runs": list(runs_for(connection)[:10]),
        "reports": list(ReconcileReport.objects.filter(connection=connection).order_by("-day", "-id")[:14]),
        "calls_last_hour": calls_by_method(connection, since=now - timedelta(hours=1)),
        "series": connections_series([connection], now=now)[connection.pk],
    }
