"""The dispatcher (SPEC S5): queued every minute by the scheduler (config/cron.py); derives due work
from the database (checkpoints' last runs, breaker state) and enqueues it under one job id per
(connection, module) (sync.enqueue.sync_job_id, the name the after-commit push enqueuer uses too), skipped while
that job still waits or runs (or waits for an RQ retry), so work never piles up behind a slow or failing
job; a failed or finished one does not block its successor.
The lease in sync.runs is what guarantees never two runs of one (connection, module) at once; a run whose
lease lapsed (its worker died) is closed here as interrupted."""
import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job

from .breaker import DEGRADED_EVERY, breaker_probe_if_due
from .enqueue import QUEUE, RETRY, WAITING, push_enqueue, sync_job_id
from .marketplaces import ADAPTERS, adapter_class
from .pipelines.items import ITEMS_EVERY, items_refresh_due
from .models import PUSH_MODULES, BreakerState, Connection, ConnectionKind, SyncModule
from .outbox import outbox_due
from .runs import runs_close_interrupted
from .pipelines.trace import TRACE_EVERY

log = logging.getLogger(__name__)

SLACK = timedelta(seconds=5)
PUSH_EVERY = timedelta(minutes=1)
RECONCILE_HOUR = 3  # GMT+8, after the day's late changes have settled


def _due(checkpoint, every: timedelta, now) -> bool:
    if checkpoint is None or checkpoint.last_run_at is None:
        return True
    if checkpoint.lease_until and checkpoint.lease_until > now:
        return False
    return now - checkpoint.last_run_at >= every - SLACK


def _ttl(every: timedelta) -> int:
    # A job not started within two intervals is dropped; the next dispatch re-derives it.
    return int(max(every.total_seconds() * 2, 120))


def _enqueue(func, connection_id: int, module: str, every: timedelta, now, **kwargs) -> str | None:
    queue = django_rq.get_queue(QUEUE)
    job_id = sync_job_id(connection_id, module)
    try:
        if Job.fetch(job_id, connection=queue.connection).get_status() in WAITING:
            return None
    except NoSuchJobError:
        pass
    queue.enqueue(
        # The hard limit: one slow ERP or marketplace cannot hold a worker longer than this (sync.runs closes the
        # run as interrupted; its checkpoint keeps what it finished).
        func, connection_id, job_id=job_id, retry=RETRY, job_timeout=settings.SYNC_JOB_TIMEOUT,
        ttl=_ttl(every), result_ttl=3600, failure_ttl=86400, **kwargs,
    )
    return job_id


def dispatch(now=None) -> list[str]:
    """Enqueue what is due for every active connection; returns the job ids enqueued."""
    from . import jobs

    now = now or timezone.now()
    # First close the runs whose worker died (their lease lapsed): they stop showing as running, and their
    # modules are free for the work derived below.
    runs_close_interrupted(now)
    enqueued = []
    connections = Connection.objects.filter(kind__in=list(ADAPTERS), is_enabled=True, stopped_reason="")
    # Pushes come from the outbox itself, not from Redis: whatever a lost job would have pushed is due here.
    pushes_due = outbox_due(now)
    for connection in connections.prefetch_related("checkpoints"):
        breaker_probe_if_due(connection, now)
        checkpoints = {c.module: c for c in connection.checkpoints.all()}
        orders_every = timedelta(seconds=connection.orders_interval)
        full = checkpoints.get(SyncModule.ORDERS_FULL)
        if full is None or full.completed_at is None:
            plan = [(jobs.sync_orders, SyncModule.ORDERS_FULL, orders_every)]
        elif connection.breaker_state == BreakerState.OPEN:
            plan = [(jobs.sync_orders, SyncModule.ORDERS, DEGRADED_EVERY),
                    (jobs.sync_refunds, SyncModule.REFUNDS, DEGRADED_EVERY)]
        else:
            plan = [(jobs.sync_orders, SyncModule.ORDERS, orders_every),
                    (jobs.sync_refunds, SyncModule.REFUNDS, timedelta(seconds=connection.refunds_interval))]
        market = adapter_class(connection.kind)
        local = now.astimezone(market.tz)
        reconcile = checkpoints.get(SyncModule.RECONCILE)
        last = reconcile.last_run_at.astimezone(market.tz).date() if reconcile and reconcile.last_run_at else None
        if "reconcile" in market.supports and local.hour >= RECONCILE_HOUR and last != local.date() \
                and full and full.completed_at:
            plan.append((jobs.sync_reconcile, SyncModule.RECONCILE, timedelta(days=1)))
        for func, module, every in plan:
            if _due(checkpoints.get(module), every, now):
                job_id = _enqueue(func, connection.pk, module, every, now)
                if job_id:
                    enqueued.append(job_id)
        # The shop's items are read once the first pull of orders is done (orders come first for the budget).
        if "items" in market.supports and full and full.completed_at \
                and items_refresh_due(checkpoints.get(SyncModule.ITEMS), now):
            job_id = _enqueue(jobs.sync_items, connection.pk, SyncModule.ITEMS, ITEMS_EVERY, now)
            if job_id:
                enqueued.append(job_id)
        # Drift repair reads back what the items refresh linked, after it (it needs the links).
        items = checkpoints.get(SyncModule.ITEMS)
        check_every = timedelta(seconds=settings.STOCK_CHECK_INTERVAL)
        if "stock_check" in market.supports and settings.STOCK_CHECK_INTERVAL and items and items.position and \
                _due(checkpoints.get(SyncModule.STOCK_CHECK), check_every, now):
            job_id = _enqueue(jobs.sync_stock_check, connection.pk, SyncModule.STOCK_CHECK, check_every, now)
            if job_id:
                enqueued.append(job_id)
        # Carrier traces of shipped orders, at a slow pace (sync.pipelines.trace takes half a minute of budget at most).
        if "trace" in market.supports and full and full.completed_at \
                and _due(checkpoints.get(SyncModule.TRACE), TRACE_EVERY, now):
            job_id = _enqueue(jobs.sync_trace, connection.pk, SyncModule.TRACE, TRACE_EVERY, now)
            if job_id:
                enqueued.append(job_id)
        for kind, module in PUSH_MODULES.items():
            checkpoint = checkpoints.get(module)
            running = checkpoint and checkpoint.lease_until and checkpoint.lease_until > now
            if (connection.pk, kind) in pushes_due and not running:
                # The same enqueuer as after a commit: one job id, and a follow-up behind a push that runs.
                job_id = push_enqueue(connection_id=connection.pk, kind=kind, ttl=_ttl(PUSH_EVERY))
                if job_id:
                    enqueued.append(job_id)
    enqueued += _dispatch_erp(now)
    return enqueued


def _dispatch_erp(now) -> list[str]:
    """ERP bridge connections (SPEC S9): the pull and the order handoff every orders_interval, hourly while
    the breaker is open (as a marketplace's pull degrades); a half-open breaker is probed by the next run."""
    from . import jobs

    enqueued = []
    connections = Connection.objects.filter(kind=ConnectionKind.ERP, is_enabled=True, stopped_reason="")
    for connection in connections.prefetch_related("checkpoints"):
        breaker_probe_if_due(connection, now)
        checkpoints = {c.module: c for c in connection.checkpoints.all()}
        every = DEGRADED_EVERY if connection.breaker_state == BreakerState.OPEN \
            else timedelta(seconds=connection.orders_interval)
        for func, module in ((jobs.sync_erp_pull, SyncModule.ERP_PULL), (jobs.sync_erp_orders, SyncModule.ERP_ORDERS)):
            if _due(checkpoints.get(module), every, now):
                job_id = _enqueue(func, connection.pk, module, every, now)
                if job_id:
                    enqueued.append(job_id)
    return enqueued
