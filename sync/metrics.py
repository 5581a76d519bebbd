"""/metrics in Prometheus text format (SPEC S8), behind the METRICS_TOKEN bearer token.

Call counters and latency come from Redis (every worker adds to them); lag, breaker state and queue
depth are read from the database and RQ at scrape time, so a restarted web process loses nothing."""
import hmac
from collections import defaultdict

import django_rq
from django.conf import settings
from django.db.models import Count, Min, OuterRef, Q, Subquery, Sum
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from . import redis as sync_redis
from .models import BreakerState, Checkpoint, Connection, Outbox, StockCheck, SyncModule
from .stats import CALLS_KEY, LATENCY_BUCKETS, LATENCY_KEY

QUEUES = ("default", "sync", "imports")
LAG_MODULES = (SyncModule.ORDERS, SyncModule.REFUNDS, SyncModule.ERP_PULL)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SyncCollector:
    def collect(self):
        redis = sync_redis.connection()
        calls = CounterMetricFamily("mh_top_calls", "Outbound marketplace calls by method and outcome.",
                                    labels=["connection", "method", "outcome"])
        for field, count in redis.hgetall(CALLS_KEY).items():
            connection, method, outcome = _text(field).split("|", 2)
            calls.add_metric([connection, method, outcome], int(count))
        yield calls
        series = defaultdict(dict)
        for field, value in redis.hgetall(LATENCY_KEY).items():
            connection, method, bound = _text(field).rsplit("|", 2)
            series[(connection, method)][bound] = float(value)
        latency = HistogramMetricFamily("mh_top_call_duration_seconds", "Outbound call latency.",
                                        labels=["connection", "method"])
        for (connection, method), values in sorted(series.items()):
            buckets = [(str(b), values.get(str(b), 0.0)) for b in LATENCY_BUCKETS]
            buckets.append(("+Inf", values.get("+Inf", 0.0)))
            latency.add_metric([connection, method], buckets, sum_value=values.get("sum", 0.0))
        yield latency
        now = timezone.now()
        lag = GaugeMetricFamily("mh_sync_lag_seconds", "Now minus the last completed window's end.",
                                labels=["connection", "module"])
        for checkpoint in Checkpoint.objects.filter(module__in=LAG_MODULES, position__isnull=False):
            lag.add_metric([str(checkpoint.connection_id), checkpoint.module],
                           (now - checkpoint.position).total_seconds())
        yield lag
        breaker = GaugeMetricFamily("mh_connection_breaker_open", "1 when the breaker is open, 0.5 half open.",
                                    labels=["connection"])
        stopped = GaugeMetricFamily("mh_connection_stopped", "1 when a permanent error stopped the jobs.",
                                    labels=["connection"])
        weights = {BreakerState.OPEN: 1.0, BreakerState.HALF_OPEN: 0.5}
        for pk, state, reason in Connection.objects.values_list("pk", "breaker_state", "stopped_reason"):
            breaker.add_metric([str(pk)], weights.get(state, 0.0))
            stopped.add_metric([str(pk)], 1.0 if reason else 0.0)
        yield breaker
        yield stopped
        yield from _outbox_gauges(now)
        yield from _drift_metrics()
        depth = GaugeMetricFamily("mh_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        for name in QUEUES:
            depth.add_metric([name], django_rq.get_queue(name).count)
        yield depth


def _outbox_gauges(now):
    """What waits to be pushed to each marketplace and what was given up on: a growing oldest-waiting age is
    the first sign that pushes are stuck (a stopped connection, an exhausted call budget)."""
    waiting = GaugeMetricFamily("mh_outbox_waiting", "Outbox rows waiting to be pushed.",
                                labels=["connection", "kind"])
    failed = GaugeMetricFamily("mh_outbox_failed", "Outbox rows given up on (shown on their pages).",
                               labels=["connection", "kind"])
    oldest = GaugeMetricFamily("mh_outbox_oldest_waiting_seconds", "Age of the oldest change not pushed yet.",
                               labels=["connection", "kind"])
    rows = (Outbox.objects.values("connection_id", "kind").order_by()
            .annotate(waiting=Count("pk", filter=Q(pending=True)),
                      failed=Count("pk", filter=Q(pending=False, failed_at__isnull=False)),
                      oldest=Min("dirty_since", filter=Q(pending=True))))
    for row in rows:
        labels = [str(row["connection_id"]), row["kind"]]
        waiting.add_metric(labels, row["waiting"])
        failed.add_metric(labels, row["failed"])
        oldest.add_metric(labels, (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0)
    yield waiting
    yield failed
    yield oldest


def _drift_metrics():
    """Drift repair (SPEC S12): SKUs found drifted and repaired over all checks, and in each connection's last."""
    total = CounterMetricFamily("mh_stock_drift", "Marketplace SKUs whose quantity had drifted, over all checks.",
                                labels=["connection"])
    repaired = CounterMetricFamily("mh_stock_drift_repaired", "Drifted SKUs pushed again and confirmed.",
                                   labels=["connection"])
    for row in StockCheck.objects.values("connection_id").order_by().annotate(d=Sum("drifted"), r=Sum("repaired")):
        total.add_metric([str(row["connection_id"])], row["d"] or 0)
        repaired.add_metric([str(row["connection_id"])], row["r"] or 0)
    yield total
    yield repaired
    last = GaugeMetricFamily("mh_stock_check_last_drifted", "SKUs drifted in the connection's last stock check.",
                             labels=["connection"])
    for check in _last_checks():
        last.add_metric([str(check.connection_id)], check.drifted)
    yield last


def _last_checks():
    latest = StockCheck.objects.filter(connection_id=OuterRef("connection_id")).order_by("-at", "-id").values("pk")[:1]
    return StockCheck.objects.filter(pk=Subquery(latest))


@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are off (METRICS_TOKEN is not set)")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse("a valid bearer token is required\n", status=401, content_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncCollector())
    return HttpResponse(generate_latest(registry), content_type="text/plain; version=0.0.4; charset=utf-8")
