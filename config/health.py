"""/healthz and /readyz for load balancers and orchestrators.

/healthz: the process answers (no database, no Redis), so a restart is only asked for when the process is stuck.
/readyz: database, Redis, migrations applied and the scheduler's last tick; 503 naming what is down, so a node
that cannot serve is taken out of rotation. Neither needs a login nor says more than ok / down / unknown: error
texts can hold addresses and user names, so they go to the log only.

Both are answered by HealthProbeMiddleware at the top of the stack: a probe reaches a node by its address over
plain HTTP, which ALLOWED_HOSTS and the HTTPS redirect would otherwise refuse, and it needs no session."""
import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from sync.scheduler import scheduler_last_tick

log = logging.getLogger(__name__)

OK, DOWN, UNKNOWN = "ok", "down", "unknown"
PROBE_TIMEOUT = 2.0  # seconds: a probe must answer well within a load balancer's own timeout

_migrations_applied = False  # once true for this process's code it stays true (cached: the check reads every file)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return OK


def _redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT,
                                  socket_timeout=PROBE_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()
    return OK


def _migrations() -> str:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connection)
        _migrations_applied = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return OK if _migrations_applied else DOWN


def _scheduler() -> str:
    last = scheduler_last_tick()
    if last is None:
        return UNKNOWN
    return OK if timezone.now() - last <= timedelta(seconds=settings.SCHEDULER_TICK_STALE_SECONDS) else DOWN


CHECKS = {"database": _database, "redis": _redis, "migrations": _migrations, "scheduler": _scheduler}


def readiness() -> dict[str, str]:
    """Each check's state: ok, down, or unknown (the scheduler before anything records its ticks)."""
    states = {}
    for name, check in CHECKS.items():
        if name == "migrations" and states.get("database") != OK:
            states[name] = UNKNOWN  # cannot be read without the database, which is named already
            continue
        try:
            states[name] = check()
        except Exception as error:  # any failure of a dependency means "down", whatever its type
            log.warning("readiness check %s failed: %s", name, error.__class__.__name__)
            states[name] = DOWN
    return states


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def readyz(request):
    states = readiness()
    down = [name for name, state in states.items() if state == DOWN]
    body = {"status": "unavailable" if down else "ok", "checks": states, "down": down}
    return JsonResponse(body, status=503 if down else 200)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthProbeMiddleware:
    """Answer GET/HEAD of /healthz and /readyz before host validation, the HTTPS redirect and sessions."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info.rstrip("/"))
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        response = probe(request)
        response["Cache-Control"] = "no-store"
        return response
