"""RQ entry points only: each loads what it needs and calls one pipeline function. The back office's own
periodic jobs (switch pauses, batch expiry, Open API nonces...) are in merchant.jobs."""
import logging
import time

from merchant.job_slots import deferred, merchant_slot
from sync.errors import Retryable
from sync.runs import LeaseTaken

log = logging.getLogger(__name__)

PUSH_LEASE_WAITS = 40
PUSH_LEASE_PAUSE = 0.5  # seconds


def sync_dispatch() -> int:
    """Periodic (every minute): enqueue the due sync jobs of every connection."""
    from sync.schedule import dispatch

    return len(dispatch())


def sync_records_purge() -> dict:
    """Periodic (daily): drop call records, processed message ids and runs past their retention."""
    from sync.retention import records_purge

    return records_purge()


def _active(connection_id: int):
    from sync.models import Connection

    connection = Connection.objects.filter(pk=connection_id).first()
    return connection if connection and connection.is_active else None


def _guarded(pipeline, connection_id: int, **kwargs):
    """The pipeline's summary; None when there is nothing to do; RQ's Retry (put back for a few seconds) when
    the merchant's job slots are all taken, so this worker serves other merchants meanwhile."""
    connection = _active(connection_id)
    if connection is None:
        return None
    with merchant_slot(connection.merchant_id) as held:
        if not held:
            log.info("connection %s: merchant %s has all its job slots busy; put back", connection_id,
                     connection.merchant_id)
            return deferred()
        try:
            return pipeline(connection, **kwargs)
        except LeaseTaken as exc:
            log.info("%s", exc)
            return None
        except Retryable:
            raise  # RQ retries it with backoff (sync.schedule.RETRY)


def sync_orders(connection_id: int, *, full: bool = False, trigger: str = "schedule") -> dict | None:
    from sync.pipelines import orders_sync

    return _guarded(orders_sync, connection_id, full=full, trigger=trigger)


def sync_refunds(connection_id: int, *, trigger: str = "schedule") -> dict | None:
    from sync.pipelines import refunds_sync

    return _guarded(refunds_sync, connection_id, trigger=trigger)


def sync_reconcile(connection_id: int, *, trigger: str = "schedule", first=None, last=None) -> dict | None:
    from sync.pipelines import reconcile_sync

    return _guarded(reconcile_sync, connection_id, trigger=trigger, first=first, last=last)


def sync_items(connection_id: int, *, trigger: str = "schedule") -> dict | None:
    """Read the shop's items and match them to our products (sync.pipelines.items)."""
    from sync.pipelines import items_sync

    return _guarded(items_sync, connection_id, trigger=trigger)


def sync_stock_check(connection_id: int, *, trigger: str = "schedule") -> dict | None:
    """Read the marketplace's quantities back and repair drift (sync.pipelines.drift)."""
    from sync.pipelines import stock_check_sync

    return _guarded(stock_check_sync, connection_id, trigger=trigger)


def sync_trace(connection_id: int, *, trigger: str = "schedule") -> dict | None:
    """Read the due carrier traces of shipped orders and follow up stalled parcels (sync.pipelines.trace)."""
    from sync.pipelines import trace_sync

    return _guarded(trace_sync, connection_id, trigger=trigger)


def sync_push(connection_id: int, *, kind: str, trigger: str = "schedule"):
    """Push the outbox rows of one kind (stock, price, listing, logistics) for a connection."""
    connection = _active(connection_id)
    if connection is None:
        return None
    with merchant_slot(connection.merchant_id) as held:
        if not held:
            return deferred()
        return _push_waiting_for_the_lease(connection, kind, trigger)


def _push_waiting_for_the_lease(connection, kind: str, trigger: str) -> dict:
    from sync.models import PUSH_MODULES
    from sync.pipelines import push_sync

    # Unlike the pulls, a push that finds the lease taken must still run: the run holding the lease may have
    # read the outbox before the change that queued this job was committed. It usually ends within seconds,
    # so wait for it a little; past that, raise, and RQ retries the job later.
    for attempt in range(PUSH_LEASE_WAITS):
        try:
            return push_sync(connection, module=PUSH_MODULES[kind], trigger=trigger)
        except LeaseTaken:
            if attempt == PUSH_LEASE_WAITS - 1:
                raise
            time.sleep(PUSH_LEASE_PAUSE)


def sync_erp_pull(connection_id: int, *, trigger: str = "schedule") -> dict | None:
    """Pull the ERP bridge's change feeds (SPEC S9)."""
    from sync.erp.pull import erp_pull_sync

    return _guarded(erp_pull_sync, connection_id, trigger=trigger)


def sync_erp_orders(connection_id: int, *, trigger: str = "schedule") -> dict | None:
    """Hand the orders waiting for the ERP to its bridge (SPEC S9)."""
    from sync.erp.orders import erp_orders_sync

    return _guarded(erp_orders_sync, connection_id, trigger=trigger)


def connection_test_run(test_id: int) -> str:
    """A queued "test the connection" (sync.connection_tests): one outbound call, its outcome stored."""
    from sync.connection_tests import connection_test_run as run

    test = run(test_id=test_id)
    return test.status if test else "not queued"


def notification_deliver(delivery_id: int) -> str | None:
    """Send one notification to one robot (sync.deliveries); the row records the outcome."""
    from sync.deliveries import delivery_send

    return delivery_send(delivery_id)


def notifications_dispatch() -> int:
    """Periodic (every minute): queue the robot deliveries that are due, whose job may have been lost."""
    from sync.deliveries import deliveries_sweep

    return len(deliveries_sweep())
