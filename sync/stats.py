"""Per-call records (SPEC S8): a database row for history, the breaker and charts, and Redis counters
for /metrics (counters may reset with Redis; Prometheus treats that as a counter reset)."""
import logging

from django.utils import timezone

from . import redis as sync_redis
from .models import ApiCall

log = logging.getLogger("sync.calls")

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CALLS_KEY = "mh:metrics:calls"
LATENCY_KEY = "mh:metrics:latency"


def call_record(*, connection_id: int, method: str, outcome: str, seconds: float, code: str = "",
                request_id: str = "") -> None:
    """Record one outbound call. Never raises: losing a statistic must not fail a sync."""
    ApiCall.objects.create(
        connection_id=connection_id, method=method[:64], at=timezone.now(), duration_ms=int(seconds * 1000),
        outcome=outcome, code=code[:80], request_id=request_id[:64],
    )
    if outcome != "ok":
        log.warning("call %s on connection %s: %s %s (request id %s)", method, connection_id, outcome, code,
                    request_id or "-")
    try:
        pipe = sync_redis.connection().pipeline(transaction=False)
        pipe.hincrby(CALLS_KEY, f"{connection_id}|{method}|{outcome}", 1)
        series = f"{connection_id}|{method}"
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                pipe.hincrby(LATENCY_KEY, f"{series}|{bound}", 1)
        pipe.hincrby(LATENCY_KEY, f"{series}|+Inf", 1)
        pipe.hincrbyfloat(LATENCY_KEY, f"{series}|sum", seconds)
        pipe.execute()
    except Exception:  # noqa: BLE001 - metrics are best effort
        log.exception("could not update call metrics")
