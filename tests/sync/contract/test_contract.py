"""The marketplace adapter contract (issue 16), the same tests for every platform: each runs the platform-neutral
pipelines (sync.pipelines) against that platform's sandbox shop over HTTP, and checks what the shop shows
against what we stored. Platform differences live in the drivers (drivers.py), never in these tests; the one
documented difference (an expired session) is the driver's `expired_session_stops`."""
from datetime import timedelta

from django.utils import timezone

from merchant.models import AuditSource, Order, OrderStatus, RefundStatus
from merchant.permissions import Actor
from merchant.services.orders import order_logistics_enter
from merchant.services.stock import stock_set
from sync.errors import SyncError
from sync.marketplaces import adapter_class
from sync.models import (
    ApiCall,
    Checkpoint,
    Outbox,
    OutboxKind,
    RunOutcome,
    SyncModule,
    SyncRun,
)
from sync.pipelines import orders_sync, push_sync, reconcile_sync, refunds_sync
from sync.runs import run_summary
from tests.factories import CarrierFactory

SYSTEM = Actor.system(AuditSource.ERP)


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def run(job, connection, platform, **kwargs):
    """Run a pipeline with the platform's fast client; a failed run re-raises for RQ's retry, so return its
    recorded summary instead."""
    try:
        return job(connection, client_factory=platform.client_factory, **kwargs)
    except SyncError:
        return run_summary(SyncRun.objects.filter(connection=connection).latest("started_at", "id"))


def ours(connection) -> dict[str, tuple[str, str]]:
    """{order number: (our status, the platform status we stored)} of the connection's orders."""
    return {no: (status, platform_status) for no, status, platform_status in
            Order.objects.filter(connection=connection).values_list("order_no", "status", "platform_status")}


def assert_in_step(platform, connection):
    """Every order of the shop is stored exactly once, with the status it has there now."""
    theirs = platform.orders_theirs()
    assert Order.objects.filter(connection=connection).count() == len(theirs)
    assert ours(connection) == {no: (platform.status_of(status), status) for no, status in theirs.items()}


def test_the_full_pull_brings_every_order_once_with_its_status_through_faults(platform, market):
    platform.orders_generate(150, start=ago(days=6), end=ago(minutes=30), seed=11)
    platform.faults(error=0.2, drop=0.05, slow=0.05, ban=1, seed=5)
    summary = run(orders_sync, market, platform, full=True)
    platform.faults()
    assert summary["mode"] == "full" and summary["outcome"] == RunOutcome.OK
    assert summary["created"] == 150 and summary["failed_calls"] > 0
    outcomes = set(ApiCall.objects.filter(connection=market).values_list("outcome", flat=True))
    assert {"ok", "retryable", "network", "rate_limited"} <= outcomes  # every fault asked for was met
    assert_in_step(platform, market)
    assert len({status for status, _ in ours(market).values()}) >= 3  # the shop's mix of statuses, not one
    assert Checkpoint.objects.get(connection=market, module=SyncModule.ORDERS_FULL).completed_at


def test_an_incremental_pull_brings_new_and_changed_orders_and_moves_the_checkpoint(platform, market):
    paid = platform.order_new([("ERP-1", 2)], created=ago(hours=2))
    run(orders_sync, market, platform, full=True)
    assert ours(market)[paid][0] == OrderStatus.AWAITING_SHIPMENT
    # The previous incremental run ended 20 minutes ago; since then one order came in and one was cancelled.
    Checkpoint.objects.filter(connection=market, module=SyncModule.ORDERS).update(position=ago(minutes=20))
    new = platform.order_new([("ERP-2", 1), ("ERP-3", 3)], created=ago(minutes=10))
    platform.order_cancel(paid, at=ago(minutes=5))

    summary = run(orders_sync, market, platform)

    assert summary["mode"] == "incremental" and summary["outcome"] == RunOutcome.OK
    assert (summary["created"], summary["updated"]) == (1, 1)
    assert ours(market)[paid][0] == OrderStatus.CANCELLED
    order = Order.objects.get(connection=market, order_no=new)
    assert order.status == OrderStatus.AWAITING_SHIPMENT
    assert sorted((i.erp_product_id, i.quantity) for i in order.items.all()) == [("ERP-2", 1), ("ERP-3", 3)]
    assert all(i.product_id for i in order.items.all())
    position = Checkpoint.objects.get(connection=market, module=SyncModule.ORDERS).position
    assert timezone.now() - position < timedelta(minutes=1)  # up to the settle lag behind now
    assert_in_step(platform, market)


def test_refunds_reach_the_order_lines_requested_then_refunded(platform, market):
    no = platform.order_new([("ERP-1", 1)], created=ago(hours=1))
    run(orders_sync, market, platform, full=True)
    refund = platform.refund_request(no, at=ago(minutes=20))
    summary = run(refunds_sync, market, platform, until=ago(minutes=5))
    assert summary["outcome"] == RunOutcome.OK
    line = Order.objects.get(connection=market, order_no=no).items.get()
    assert line.refund_status == RefundStatus.REQUESTED

    platform.refund_succeed(refund, at=ago(minutes=2))
    summary = run(refunds_sync, market, platform)
    assert summary["outcome"] == RunOutcome.OK
    line.refresh_from_db()
    assert line.refund_status == RefundStatus.REFUNDED


def test_a_stock_change_is_pushed_and_the_marketplace_shows_what_we_recorded(platform, market, catalog):
    product = catalog[0]
    assert platform.stock_of("ERP-1") == 100
    stock_set(product=product, quantity=37, actor=SYSTEM)
    row = Outbox.objects.get(connection=market, product=product, kind=OutboxKind.STOCK)
    assert row.pending

    summary = run(push_sync, market, platform, module=SyncModule.STOCK)

    assert summary["outcome"] == RunOutcome.OK and summary["pushed"] == 1
    row.refresh_from_db()
    assert not row.pending and row.pushed_at
    assert row.pushed_value == "37"  # no orders hold any, no safety stock
    assert platform.stock_of("ERP-1") == int(row.pushed_value)
    assert platform.stock_of("ERP-2") == 100  # never changed here, never pushed


def test_an_order_shipped_here_goes_out_with_its_carrier_and_tracking_number(platform, market):
    no = platform.order_new([("ERP-1", 1), ("ERP-2", 2)], created=ago(hours=1))
    run(orders_sync, market, platform, full=True)
    order = Order.objects.get(connection=market, order_no=no)
    assert platform.order_ship_state(no) is None
    order_logistics_enter(order=order, carrier=CarrierFactory(code="YTO", name="圆通速递"),
                          tracking_no="YT7000000000001", actor=SYSTEM)

    summary = run(push_sync, market, platform, module=SyncModule.LOGISTICS)

    assert summary["outcome"] == RunOutcome.OK and summary["pushed"] == 1
    assert platform.order_ship_state(no) == (platform.carriers["YTO"], "YT7000000000001")
    row = Outbox.objects.get(connection=market, order=order, kind=OutboxKind.LOGISTICS)
    assert not row.pending and row.pushed_value == "YTO YT7000000000001"
    # Reading the shipment back leaves it shipped here, with our carrier and tracking number.
    run(orders_sync, market, platform, since=ago(minutes=10), until=timezone.now())
    order.refresh_from_db()
    assert (order.status, order.carrier.code, order.tracking_no) == (OrderStatus.SHIPPED, "YTO", "YT7000000000001")
    # ... and takes the marketplace's own word for it, even when it was stamped in the second we shipped.
    assert_in_step(platform, market)


def test_reconciling_yesterday_refetches_an_order_the_pulls_missed(platform, market):
    tz = adapter_class(market.kind).tz
    noon = (timezone.now().astimezone(tz) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    seen = platform.order_new([("ERP-1", 1)], created=noon)
    run(orders_sync, market, platform, full=True)
    # Indexed late: it shows up with yesterday's times after the pulls had read that stretch.
    missed = platform.order_new([("ERP-2", 1)], created=noon + timedelta(hours=1))
    run(orders_sync, market, platform)
    assert set(ours(market)) == {seen}

    summary = reconcile_sync(market, client_factory=platform.client_factory)

    assert summary["outcome"] == RunOutcome.OK
    [day] = summary["days"]
    assert day["day"] == noon.date().isoformat()
    assert (day["theirs"], day["ours"], day["missing"], day["refetched"]) == (2, 1, 1, 1)
    assert_in_step(platform, market)
    assert Order.objects.get(connection=market, order_no=missed).status == OrderStatus.AWAITING_SHIPMENT


def expiring_mid_run(platform, after_calls: int):
    """The platform's client factory, the session expiring on the platform after `after_calls` calls."""
    def factory(connection, **kwargs):
        client = platform.client_factory(connection, **kwargs)
        real, made = client.call, []

        def call(method, params=None, **kw):
            made.append(method)
            if len(made) == after_calls + 1:
                platform.session_expire()
            return real(method, params, **kw)

        client.call = call
        return client
    return factory


def test_an_expired_session_mid_run_follows_the_platforms_documented_behaviour(platform, market):
    platform.orders_generate(40, start=ago(days=5), end=ago(hours=1), seed=12)
    before = market.session
    summary = orders_sync(market, full=True, client_factory=expiring_mid_run(platform, after_calls=3))
    market.refresh_from_db()
    if platform.expired_session_stops:
        # TOP: the owner must paste a new session; the connection stops and says so, without retrying forever.
        assert summary["outcome"] == RunOutcome.STOPPED
        assert "session" in market.stopped_reason.lower() and not market.is_active
        assert Order.objects.filter(connection=market).count() < 40
        assert market.session == before == platform.session_current()
    else:
        # Douyin: the client refreshes the access token and repeats the call; the run completes.
        assert summary["outcome"] == RunOutcome.OK and summary["created"] == 40
        assert not market.stopped_reason and market.is_active
        assert market.session != before and market.session == platform.session_current()
        assert_in_step(platform, market)
