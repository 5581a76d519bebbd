"""Reading carrier traces of the marketplace orders we shipped, and following up the parcels that stall
(issue 15: stalled logistics follow-up).

Each shipped order of the connection has a TraceWatch with a due time. A pass reads the due ones, oldest due
first, in batches, one `taobao.logistics.trace.search` each, and:
- a trace with a new node is read again BASE_INTERVAL later; one without is read later each time
  (BASE_INTERVAL doubling, at most MAX_INTERVAL), but never later than the moment it would cross the
  merchant's limit, so a stall is confirmed by a fresh read when it happens;
- a parcel whose last progress (last node, or shipping when the trace has none) is older than the merchant's
  limit (Merchant.logistics_stall_hours) opens one follow-up (merchant.services.followups); one that moves
  again after opening is recorded as moved on its follow-up, which stays for the merchant to resolve;
- a parcel signed for, or an order no longer shipped, is not read again.

Traces are worth less than orders, so a pass never waits for the call budget: it takes at most
BUDGET_SHARE of the connection's calls per minute, and stops as soon as the shared budget (sync.ratelimit)
has no call left or the marketplace asks to wait. What is left stays due for the next pass."""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from merchant.models import Order, OrderStatus
from merchant.services.followups import followup_stalled_open, followup_trace_moved

from ..marketplaces.records import Trace
from ..errors import BusinessError, RateLimited, Retryable
from ..models import TraceWatch
from ..ratelimit import BudgetTimeout, CallBudget

log = logging.getLogger(__name__)

BASE_INTERVAL = timedelta(hours=2)
MAX_INTERVAL = timedelta(hours=24)
# A carrier's first scan takes a while: the first read waits this long after shipping.
FIRST_READ_AFTER = timedelta(hours=2)
# After a read the marketplace failed (a platform error), try this one again so much later.
RETRY_AFTER = timedelta(minutes=30)
BUDGET_SHARE = 0.5
BATCH = 50
TRACE_EVERY = timedelta(minutes=10)


class BudgetSpent(Exception):
    """The connection's call budget has no call left now (or the marketplace banned calls for a while)."""


class NoWaitBudget:
    """The connection's shared budget, asked without waiting: a pass of traces gives way to the other jobs."""

    def __init__(self, budget: CallBudget):
        self.budget = budget

    def acquire(self, max_wait: float = 0.0) -> float:
        if self.budget.try_acquire():
            raise BudgetSpent("no call left in the connection's budget")
        return 0.0

    def ban(self, seconds: float) -> None:
        self.budget.ban(seconds)


@dataclass
class TraceReport:
    enrolled: int = 0
    read: int = 0
    moved: int = 0
    opened: int = 0
    delivered: int = 0
    failed: int = 0
    left_due: int = 0
    budget_spent: bool = False


def next_read_at(*, now: datetime, quiet_checks: int, last_progress_at: datetime | None,
                 stall_hours: int) -> datetime:
    """When to read a trace again after `quiet_checks` reads in a row without a new node (0: it just moved):
    BASE_INTERVAL * 2**quiet_checks, at most MAX_INTERVAL, but not after the moment its last progress
    becomes older than the limit (unless that moment has passed: then it is stalled and only backs off)."""
    later = now + min(MAX_INTERVAL, BASE_INTERVAL * (2 ** min(quiet_checks, 16)))
    if last_progress_at is not None:
        deadline = last_progress_at + timedelta(hours=stall_hours) + timedelta(minutes=1)
        if now < deadline < later:
            return deadline
    return later


def calls_allowed(connection) -> int:
    """How many trace reads one pass may make at most."""
    return max(1, int(connection.calls_per_minute * BUDGET_SHARE))


def watches_enrol(connection, now: datetime) -> int:
    """Start watching the connection's shipped orders that have a tracking number, stop watching those no longer
    shipped. Returns how many were added."""
    shipped = Order.objects.filter(connection=connection, status=OrderStatus.SHIPPED, shipped_at__isnull=False) \
        .exclude(tracking_no="")
    watched = TraceWatch.objects.filter(connection=connection).values("order_id")
    new = [TraceWatch(connection=connection, order_id=pk, tracking_no=tracking_no,
                      due_at=max(now, shipped_at + FIRST_READ_AFTER))
           for pk, tracking_no, shipped_at in shipped.exclude(pk__in=watched)
           .values_list("pk", "tracking_no", "shipped_at").iterator(chunk_size=2000)]
    TraceWatch.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    TraceWatch.objects.filter(connection=connection, active=True).exclude(
        order__status=OrderStatus.SHIPPED).update(active=False)
    return len(new)


def _apply(watch: TraceWatch, order: Order, trace: Trace, now: datetime, report: TraceReport) -> None:
    last = trace.last
    moved = last is not None and (watch.last_node_at is None or last.at > watch.last_node_at)
    watch.checked_at, watch.last_error = now, ""
    watch.carrier_name = trace.company_name or watch.carrier_name
    watch.tracking_no = trace.out_sid or watch.tracking_no or order.tracking_no
    watch.nodes = len(trace.nodes)
    if moved:
        watch.last_node_at, watch.last_node_text = last.at, last.text[:300]
        watch.quiet_checks = 0
        report.moved += 1
    else:
        watch.quiet_checks += 1
    watch.delivered = trace.delivered
    progress = watch.last_node_at or order.shipped_at
    stall_hours = order.merchant.logistics_stall_hours
    if moved or trace.delivered:
        followup_trace_moved(order=order, last_node_at=watch.last_node_at, last_node_text=watch.last_node_text,
                             delivered=trace.delivered, now=now)
    if trace.delivered:
        watch.active = False
        report.delivered += 1
    elif now - progress > timedelta(hours=stall_hours):
        opened = followup_stalled_open(order=order, since=progress, last_node_at=watch.last_node_at,
                                       last_node_text=watch.last_node_text, carrier_name=watch.carrier_name,
                                       tracking_no=watch.tracking_no, now=now)
        report.opened += opened is not None
    watch.due_at = next_read_at(now=now, quiet_checks=watch.quiet_checks, last_progress_at=progress,
                                stall_hours=stall_hours)
    watch.save()


def _tid(order: Order) -> int | None:
    try:
        return int(order.order_no)
    except ValueError:
        return None


def traces_read(run, market, *, now: datetime | None = None) -> TraceReport:
    """One pass over the connection's due traces (see the module docstring). Returns the report; a permanent
    error is raised (the run stops the connection), everything else stops the pass or that one trace."""
    connection = run.connection
    now = now or timezone.now()
    report = TraceReport(enrolled=watches_enrol(connection, now))
    allowed = calls_allowed(connection)
    done: set[int] = set()
    while report.read + report.failed < allowed and not report.budget_spent:
        batch = list(TraceWatch.objects.filter(connection=connection, active=True, due_at__lte=now)
                     .exclude(pk__in=done).select_related("order__merchant")
                     .order_by("due_at", "pk")[:min(BATCH, allowed - report.read - report.failed)])
        if not batch:
            break
        for watch in batch:
            done.add(watch.pk)
            tid = _tid(watch.order)
            if tid is None:
                TraceWatch.objects.filter(pk=watch.pk).update(active=False)
                continue
            try:
                trace = market.trace_of(tid)
            except (BudgetSpent, BudgetTimeout, RateLimited):
                report.budget_spent = True
                break
            except BusinessError as exc:
                # The marketplace has no trace for it (yet): ask again later each time, as for a quiet trace.
                report.failed += 1
                run.error(f"trace of order {watch.order.order_no}: {exc}")
                TraceWatch.objects.filter(pk=watch.pk).update(
                    due_at=now + min(MAX_INTERVAL, BASE_INTERVAL * 2 ** min(watch.quiet_checks, 16)),
                    quiet_checks=watch.quiet_checks + 1, checked_at=now, last_error=str(exc)[:300])
                continue
            except Retryable as exc:
                report.failed += 1
                run.error(f"trace of order {watch.order.order_no}: {exc}")
                TraceWatch.objects.filter(pk=watch.pk).update(due_at=now + RETRY_AFTER, last_error=str(exc)[:300])
                continue
            report.read += 1
            _apply(watch, watch.order, trace, now, report)
        run.record.fetched, run.record.created, run.record.updated = report.read, report.opened, report.moved
        run.renew()
    report.left_due = TraceWatch.objects.filter(connection=connection, active=True, due_at__lte=now).count()
    return report
