"""One function per job kind: claim the lease, run the pipeline with the connection's marketplace adapter (its
platform's client behind sync.marketplaces.base), judge the breaker, return the run's summary. RQ jobs, the CLI
and the "sync now" button all call these; `client_factory` builds the platform's client (tests pass their own)."""
from datetime import date, datetime, timedelta

from django.utils import timezone

from ..breaker import DEGRADED_EVERY
from ..marketplaces import adapter_class, client_for, marketplace_for
from ..models import PUSH_MODULES, BreakerState, Connection, StockCheck, SyncModule
from .drift import stock_check
from .items import ItemsReport, items_refresh
from .orders import orders_pull_full, orders_pull_incremental, orders_pull_range, refunds_pull
from .push import Tally, outbox_push
from ..ratelimit import CallBudget
from .reconcile import reconcile_days
from ..runs import checkpoint_for, run_of
from .trace import NoWaitBudget, TraceReport, traces_read

PUSH_KINDS = {module: kind for kind, module in PUSH_MODULES.items()}


def _market(connection: Connection, run, client_factory):
    return marketplace_for(connection, client_factory(connection, counter=run.counter))


def _tz(connection: Connection):
    return adapter_class(connection.kind).tz


def orders_sync(connection: Connection, *, full: bool = False, since: datetime | None = None,
                until: datetime | None = None, trigger: str = "schedule", client_factory=client_for) -> dict:
    """Incremental pull from the checkpoint (the first one runs the 90-day full pull), or a full pull.
    While the breaker is open a scheduled run is the hourly full pull of recent days instead.
    With since/until an incremental pull re-reads that range and leaves the checkpoint alone."""
    initial = checkpoint_for(connection, SyncModule.ORDERS_FULL).completed_at is None and not (since or until)
    if full or initial:
        with run_of(connection, SyncModule.ORDERS_FULL, mode="full", trigger=trigger) as run:
            market = _market(connection, run, client_factory)
            orders_pull_full(run, market, since=since, until=until, save_progress=not (since or until))
        return run.summary()
    degraded = trigger == "schedule" and connection.breaker_state == BreakerState.OPEN
    mode = "degraded" if degraded else ("range" if since or until else "incremental")
    with run_of(connection, SyncModule.ORDERS, mode=mode, trigger=trigger) as run:
        market = _market(connection, run, client_factory)
        if degraded:
            start = (run.checkpoint.position or timezone.now()) - DEGRADED_EVERY - timedelta(days=1)
            orders_pull_full(run, market, since=start, save_progress=False)
        elif since or until:
            orders_pull_range(run, market, since or (until - timedelta(days=1)), until or timezone.now())
        else:
            orders_pull_incremental(run, market)
    return run.summary()


def refunds_sync(connection: Connection, *, trigger: str = "schedule", until: datetime | None = None,
                 client_factory=client_for) -> dict:
    with run_of(connection, SyncModule.REFUNDS, mode="incremental", trigger=trigger) as run:
        refunds_pull(run, _market(connection, run, client_factory), until=until)
    return run.summary()


def reconcile_sync(connection: Connection, *, first: date | None = None, last: date | None = None,
                   trigger: str = "schedule", client_factory=client_for) -> dict:
    """Check the days first..last (of the marketplace's calendar); by default yesterday."""
    yesterday = (timezone.now().astimezone(_tz(connection)) - timedelta(days=1)).date()
    first, last = first or last or yesterday, last or first or yesterday
    reports = []  # what a run stopped by a permanent error (not re-raised) reports
    with run_of(connection, SyncModule.RECONCILE, mode="days", trigger=trigger) as run:
        reports = reconcile_days(run, _market(connection, run, client_factory), first, last)
    summary = run.summary()
    summary["days"] = [
        {"day": r.day.isoformat(), "theirs": r.theirs, "ours": r.ours, "missing": r.missing, "stale": r.stale,
         "refetched": r.refetched, "extra": r.extra} for r in reports
    ]
    return summary


def push_sync(connection: Connection, *, module: str, trigger: str = "schedule", now: datetime | None = None,
              client_factory=client_for) -> dict:
    """Push what the outbox holds for one module (stock, prices, listing, logistics) to the marketplace.
    The summary adds how many rows were acknowledged (`pushed`), given up or put off (`failed`), and settled
    without a call because the product is not on that marketplace (`skipped`)."""
    kind, tally = PUSH_KINDS[module], Tally()
    with run_of(connection, module, mode="push", trigger=trigger) as run:
        outbox_push(run, _market(connection, run, client_factory), kind, now=now, tally=tally)
    return {**run.summary(), "pushed": tally.pushed, "failed": tally.failed, "skipped": tally.skipped}


def items_sync(connection: Connection, *, trigger: str = "schedule", client_factory=client_for) -> dict:
    """Read the shop's items and match them to our products (sync.pipelines.items). The summary adds how many
    products are on the marketplace (`matched`) and how many are not (`not_on_marketplace`)."""
    report = ItemsReport()  # what a run stopped by a permanent error (not re-raised) reports
    with run_of(connection, SyncModule.ITEMS, mode="items", trigger=trigger) as run:
        report = items_refresh(run, _market(connection, run, client_factory))
    return {**run.summary(), "matched": report.matched, "not_on_marketplace": report.missing,
            "items_left": report.deferred}


def stock_check_sync(connection: Connection, *, trigger: str = "schedule", client_factory=client_for) -> dict:
    """Read the marketplace's quantities back and repair drift (sync.pipelines.drift). The summary adds the SKUs compared,
    how many had drifted, how many were repaired, and those left for the order pull."""
    check = StockCheck()  # what a run stopped by a permanent error (not re-raised) reports
    with run_of(connection, SyncModule.STOCK_CHECK, mode="check", trigger=trigger) as run:
        check = stock_check(run, _market(connection, run, client_factory))
    return {**run.summary(), "compared": check.skus, "drifted": check.drifted, "repaired": check.repaired,
            "held_back": check.held_back, "items_left": check.items_left}


def trace_sync(connection: Connection, *, trigger: str = "schedule", client_factory=client_for) -> dict:
    """One pass of carrier traces (sync.pipelines.trace): the summary adds traces read (`read`), parcels that moved
    (`moved`), follow-ups opened (`opened`), parcels signed for (`delivered`), failed reads (`failed`), traces
    still due (`left_due`) and whether the call budget ran out (`budget_spent`)."""
    report = TraceReport()  # what a run stopped by a permanent error (not re-raised) reports
    with run_of(connection, SyncModule.TRACE, mode="trace", trigger=trigger) as run:
        budget = NoWaitBudget(CallBudget(connection.pk, connection.calls_per_minute))
        client = client_factory(connection, counter=run.counter, budget=budget)
        report = traces_read(run, marketplace_for(connection, client))
    return {**run.summary(), "read": report.read, "moved": report.moved, "opened": report.opened,
            "delivered": report.delivered, "failed": report.failed, "left_due": report.left_due,
            "budget_spent": report.budget_spent}
