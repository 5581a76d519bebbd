"""Refunds, the message channel, the breaker and reconciliation, against the sandbox over HTTP."""
from datetime import timedelta

import pytest
from django.utils import timezone

from merchant.models import Order, OrderItem, RefundStatus
from sync.breaker import breaker_probe_if_due
from sync.consumer import Consumer
from sync.models import BreakerEvent, BreakerState, Checkpoint, ProcessedMessage, ReconcileReport, SyncModule
from sync.marketplaces.top.times import TOP_TZ
from sync.pipelines import orders_sync, reconcile_sync, refunds_sync
from sync.pipelines.reconcile import day_bounds
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxMessage, SandboxShop, SandboxTrade

from .conftest import ago, fast_client, faults, full_pull_of_an_empty_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def synced(top, shop):
    """A connection whose full pull is done (over an empty shop)."""
    full_pull_of_an_empty_shop(top, shop)
    return top


def test_refunds_update_line_states_and_the_order(synced, shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1), ("ERP-2", 1)], created=ago(hours=2))
    Checkpoint.objects.filter(connection=synced, module=SyncModule.ORDERS).update(position=ago(hours=3))
    orders_sync(synced, client_factory=fast_client)
    oid = trade.lines[0]["oid"]
    refund = marketplace.refund_create(trade, oid=oid, at=ago(minutes=20))
    Checkpoint.objects.update_or_create(connection=synced, module=SyncModule.REFUNDS,
                                        defaults={"position": ago(minutes=30)})
    summary = refunds_sync(synced, client_factory=fast_client)
    assert summary["outcome"] == "ok" and summary["updated"] == 1
    assert OrderItem.objects.get(external_id=str(oid)).refund_status == RefundStatus.REQUESTED
    assert Order.objects.get(order_no=str(trade.tid)).refund_status == RefundStatus.REQUESTED
    marketplace.refund_set_status(refund, "SUCCESS", at=ago(seconds=30))
    refunds_sync(synced, client_factory=fast_client)
    assert OrderItem.objects.get(external_id=str(oid)).refund_status == RefundStatus.REFUNDED
    assert Order.objects.get(order_no=str(trade.tid)).refund_status == RefundStatus.PARTIAL


def test_a_refund_for_an_order_not_here_yet_fetches_the_order(synced, shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-3", 1)], created=ago(hours=30))
    marketplace.refund_create(trade, at=ago(minutes=20))
    Checkpoint.objects.update_or_create(connection=synced, module=SyncModule.REFUNDS,
                                        defaults={"position": ago(minutes=30)})
    refunds_sync(synced, client_factory=fast_client)
    order = Order.objects.get(order_no=str(trade.tid))
    assert order.refund_status == RefundStatus.REQUESTED


def consumer_for(connection):
    return Consumer(only=[connection.pk], client_factory=fast_client)


def test_messages_bring_orders_in_and_are_confirmed_only_after_storing(synced, shop):
    consumer = consumer_for(synced)
    consumer.poll(synced)  # permits the channel (nothing to consume yet)
    assert SandboxShop.objects.get(pk=shop.pk).tmc_enabled
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 2)])
    summary = consumer.poll(synced)
    assert summary["created"] == 1 and summary["confirmed"] >= 1
    assert Order.objects.filter(order_no=str(trade.tid)).exists()
    assert not SandboxMessage.objects.filter(shop=shop, confirmed_at__isnull=True).exists()
    marketplace.trade_set_status(trade, "WAIT_BUYER_CONFIRM_GOODS")
    consumer.poll(synced)
    assert Order.objects.get(order_no=str(trade.tid)).platform_status == "WAIT_BUYER_CONFIRM_GOODS"


def test_a_message_whose_order_could_not_be_fetched_is_left_for_redelivery(synced, shop):
    consumer = consumer_for(synced)
    consumer.poll(synced)
    SandboxShop.objects.filter(pk=shop.pk).update(redeliver_after_seconds=0)
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)])
    faults(shop, fail_next=1)  # the consume call is retried; the fetch then fails...
    faults(shop, error_rate=1.0)
    summary = consumer.poll(synced)
    assert summary.get("error") or summary.get("left")
    assert not Order.objects.filter(order_no=str(trade.tid)).exists()
    assert SandboxMessage.objects.filter(shop=shop, confirmed_at__isnull=True).exists()
    faults(shop, error_rate=0.0, fail_next=0)
    consumer.state[synced.pk]["retry_at"] = 0
    consumer.poll(synced)
    assert Order.objects.filter(order_no=str(trade.tid)).exists()
    assert not SandboxMessage.objects.filter(shop=shop, confirmed_at__isnull=True).exists()


def test_redelivered_messages_are_confirmed_without_work(synced, shop):
    consumer = consumer_for(synced)
    consumer.poll(synced)
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)])
    consumer.poll(synced)
    stored = ProcessedMessage.objects.count()
    assert stored >= 1
    # The marketplace delivers the same messages again (e.g. our confirm was lost).
    SandboxMessage.objects.filter(shop=shop).update(confirmed_at=None, delivered_at=None)
    summary = consumer.poll(synced)
    assert summary["duplicates"] == summary["received"] >= 1 and summary["fetched"] == 0
    assert ProcessedMessage.objects.count() == stored
    assert Order.objects.filter(order_no=str(trade.tid)).count() == 1


def test_breaker_opens_on_failures_and_a_clean_probe_closes_it(synced, shop):
    marketplace.trades_generate(shop, 30, start=ago(minutes=20), end=ago(minutes=2), seed=7)
    Checkpoint.objects.filter(connection=synced, module=SyncModule.ORDERS).update(position=ago(minutes=25))
    faults(shop, error_rate=1.0)
    for _ in range(15):
        try:
            orders_sync(synced, client_factory=fast_client)
        except Exception:  # noqa: BLE001 - runs fail while every call does
            pass
        synced.refresh_from_db()
        if synced.breaker_state == BreakerState.OPEN:
            break
    assert synced.breaker_state == BreakerState.OPEN
    assert "5%" in synced.breaker_reason and "isp.top-remote" in synced.breaker_reason
    event = BreakerEvent.objects.get(connection=synced)
    assert (event.from_state, event.to_state) == (BreakerState.CLOSED, BreakerState.OPEN)

    faults(shop, error_rate=0.0)
    synced.__class__.objects.filter(pk=synced.pk).update(breaker_changed_at=timezone.now() - timedelta(minutes=16))
    synced.refresh_from_db()
    assert breaker_probe_if_due(synced)
    assert synced.breaker_state == BreakerState.HALF_OPEN
    orders_sync(synced, client_factory=fast_client, trigger="probe")
    synced.refresh_from_db()
    assert synced.breaker_state == BreakerState.CLOSED
    assert BreakerEvent.objects.filter(connection=synced).count() == 3
    assert Order.objects.count() == 30


def test_reconciliation_finds_and_repairs_a_planted_gap(synced, shop):
    marketplace.trades_generate(shop, 40, start=ago(days=3), end=ago(days=1, hours=1), seed=8)
    orders_sync(synced, full=True, client_factory=fast_client, since=ago(days=4))
    assert Order.objects.count() == 40
    gone = Order.objects.order_by("created_at").first()
    day = gone.created_at.astimezone(TOP_TZ).date()
    first, last = day_bounds(day, TOP_TZ)
    same_day = Order.objects.filter(created_at__gte=first, created_at__lte=last).exclude(pk=gone.pk)
    older = same_day.first()
    gone.delete()
    if older is not None:  # a second planted fault on that day: an order we hold in an older version
        Order.objects.filter(pk=older.pk).update(modified_at=older.modified_at - timedelta(hours=1),
                                                 platform_status="WAIT_BUYER_PAY")
    summary = reconcile_sync(synced, first=day, last=day, client_factory=fast_client)
    assert summary["outcome"] == "ok" and summary["days"][0]["missing"] == 1
    report = ReconcileReport.objects.get(connection=synced, day=day)
    assert report.missing == 1 and gone.order_no in report.sample["missing"]
    assert report.theirs == report.ours + 1
    assert report.stale == (1 if older else 0) and report.refetched == report.missing + report.stale
    assert Order.objects.filter(order_no=gone.order_no).exists()
    if older is not None:
        theirs = SandboxTrade.objects.get(tid=int(older.order_no))
        assert Order.objects.get(pk=older.pk).platform_status == theirs.status
    assert Order.objects.count() == SandboxTrade.objects.count() == 40


def test_messages_are_not_confirmed_when_storing_fails(synced, shop, monkeypatch):
    consumer = consumer_for(synced)
    consumer.poll(synced)
    SandboxShop.objects.filter(pk=shop.pk).update(redeliver_after_seconds=0)
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)])

    def broken_store(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("sync.pipelines.messages.orders_upsert_marketplace", broken_store)
    summary = consumer.poll(synced)
    assert "database went away" in summary["error"]
    assert SandboxMessage.objects.filter(shop=shop, confirmed_at__isnull=True).exists()
    assert not ProcessedMessage.objects.exists()
    monkeypatch.undo()
    consumer.state[synced.pk]["retry_at"] = 0
    consumer.poll(synced)
    assert Order.objects.filter(order_no=str(trade.tid)).exists()
    assert not SandboxMessage.objects.filter(shop=shop, confirmed_at__isnull=True).exists()
