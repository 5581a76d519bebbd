"""Order pulls against the sandbox marketplace over real HTTP, with its fault modes."""
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from merchant.models import Order, OrderItem, OrderSource, OrderStatus
from sync.errors import SyncError
from sync.marketplaces.top.adapter import TopMarketplace
from sync.marketplaces.top.mapping import STATUS
from sync.marketplaces.top.sandbox import faults as sandbox_faults
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxTrade
from sync.models import ApiCall, Checkpoint, RunOutcome, SyncModule, SyncRun
from sync.pipelines import orders_sync

from .conftest import ago, fast_client, faults, full_pull_of_an_empty_shop

pytestmark = pytest.mark.django_db(transaction=True)


def pull(connection, **kwargs):
    """Run a pull; a failed run re-raises for RQ's retry, so return its recorded summary instead."""
    try:
        return orders_sync(connection, client_factory=fast_client, **kwargs)
    except SyncError:
        from sync.runs import run_summary

        return run_summary(SyncRun.objects.filter(connection=connection).latest("started_at", "id"))


def assert_in_step_with_the_marketplace(shop):
    """Every sandbox trade is here exactly once, with the status it has there now."""
    theirs = {str(t.tid): t.status for t in SandboxTrade.objects.filter(shop=shop)}
    ours = dict(Order.objects.filter(source=OrderSource.MARKETPLACE).values_list("order_no", "platform_status"))
    assert set(ours) == set(theirs)
    assert ours == theirs
    assert Order.objects.filter(source=OrderSource.MARKETPLACE).count() == len(theirs)


def test_first_run_pulls_90_days_then_incremental_follows_changes(top, shop):
    marketplace.trades_generate(shop, 230, start=ago(days=89), end=ago(minutes=30), seed=1)
    summary = pull(top)
    assert summary["mode"] == "full" and summary["outcome"] == "ok"
    assert summary["created"] == 230 and summary["windows"] >= 89
    assert_in_step_with_the_marketplace(shop)
    assert Checkpoint.objects.get(connection=top, module=SyncModule.ORDERS_FULL).completed_at

    # Incremental from here: the checkpoint was set when the full pull started; move it back so the
    # changes below (made "a few minutes ago") fall in its window.
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=20))
    changed = SandboxTrade.objects.filter(shop=shop, status="WAIT_SELLER_SEND_GOODS").first()
    new = marketplace.trade_create(shop, lines=[("ERP-1", 2), ("ERP-2", 1)], created=ago(minutes=10))
    marketplace.trade_set_status(changed, "WAIT_BUYER_CONFIRM_GOODS", at=ago(minutes=5))
    summary = pull(top)
    assert summary["mode"] == "incremental" and summary["outcome"] == "ok"
    assert summary["created"] == 1 and summary["updated"] == 1
    order = Order.objects.get(order_no=str(new.tid))
    assert order.status == OrderStatus.AWAITING_SHIPMENT and order.connection == top
    assert [i.erp_product_id for i in order.items.all()] == ["ERP-1", "ERP-2"]
    assert all(i.product_id for i in order.items.all())
    assert Order.objects.get(order_no=str(changed.tid)).status == OrderStatus.SHIPPED
    checkpoint = Checkpoint.objects.get(connection=top, module=SyncModule.ORDERS)
    assert timezone.now() - checkpoint.position < timedelta(minutes=1)
    assert_in_step_with_the_marketplace(shop)


def test_steady_state_polls_cost_one_list_call_per_page(top, shop):
    full_pull_of_an_empty_shop(top, shop)
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=25))
    marketplace.trades_generate(shop, 250, start=ago(minutes=20), end=ago(minutes=1), seed=2)
    ApiCall.objects.all().delete()
    summary = pull(top)
    assert summary["created"] == 250
    calls = Counter(ApiCall.objects.values_list("method", flat=True))
    # 3 pages of the fresh window + 1 overlap check; no per-order detail call (nothing moved while the pages were
    # read, so page 1 is not read again).
    assert calls == {"taobao.trades.sold.increment.get": 4}


def test_no_order_lost_or_duplicated_under_errors_drops_malformed_answers_and_bans(top, shop):
    marketplace.trades_generate(shop, 260, start=ago(days=2), end=ago(minutes=30), seed=3)
    faults(shop, error_rate=0.1, drop_rate=0.05, malformed_rate=0.05, ban_next_seconds=1)
    summary = pull(top)
    assert summary["outcome"] == "ok"
    assert summary["failed_calls"] > 0
    assert_in_step_with_the_marketplace(shop)
    outcomes = set(ApiCall.objects.values_list("outcome", flat=True))
    assert {"ok", "retryable", "network", "malformed", "rate_limited"} <= outcomes


def test_orders_modified_while_paging_are_not_lost(top, shop):
    full_pull_of_an_empty_shop(top, shop)
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=29))
    marketplace.trades_generate(shop, 340, start=ago(minutes=28), end=ago(minutes=1), seed=4)
    faults(shop, move_on_page_rate=1.0, move_count=5)
    pull(top)
    faults(shop, move_on_page_rate=0.0)
    moved = SandboxTrade.objects.filter(shop=shop, modified__gt=ago(minutes=1)).count()
    assert moved > 0  # the fault really moved orders out of the window being paged
    # Orders moved to "now" are in the next window; the next run picks them up.
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=2))
    marketplace_now_plus = timezone.now() + timedelta(seconds=10)
    from sync.marketplaces import marketplace_for
    from sync.pipelines.orders import orders_pull_incremental
    from sync.runs import run_of

    with run_of(top, SyncModule.ORDERS) as run:
        orders_pull_incremental(run, marketplace_for(top, fast_client(top, counter=run.counter)),
                                until=marketplace_now_plus)
    assert_in_step_with_the_marketplace(shop)


class Crash(Exception):
    pass


def crashing_client(after_calls):
    def factory(connection, counter=None):
        client = fast_client(connection, counter=counter)
        real = client.call

        def call(method, params=None, **kwargs):
            if client.counter.calls >= after_calls:
                raise Crash("worker killed")
            return real(method, params, **kwargs)

        client.call = call
        return client
    return factory


def test_a_crash_mid_window_loses_nothing_and_the_next_run_resumes(top, shop):
    full_pull_of_an_empty_shop(top, shop)
    start = ago(minutes=29)
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=start)
    marketplace.trades_generate(shop, 300, start=ago(minutes=28), end=ago(minutes=1), seed=5)
    with pytest.raises(Crash):
        orders_sync(top, client_factory=crashing_client(after_calls=2))
    run = SyncRun.objects.filter(connection=top, module=SyncModule.ORDERS).latest("started_at")
    assert run.outcome == RunOutcome.FAILED and "worker killed" in run.errors[0]
    assert Checkpoint.objects.get(connection=top, module=SyncModule.ORDERS).position == start.replace(microsecond=0) or \
        Checkpoint.objects.get(connection=top, module=SyncModule.ORDERS).position == start
    assert 0 < Order.objects.count() < 300
    assert pull(top)["outcome"] == "ok"
    assert_in_step_with_the_marketplace(shop)


def test_details_are_fetched_only_for_orders_with_a_buyer_message(top, shop):
    full_pull_of_an_empty_shop(top, shop)
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=10))
    plain = marketplace.trade_create(shop, lines=[("ERP-1", 1)], created=ago(minutes=5))
    noted = marketplace.trade_create(shop, lines=[("ERP-2", 1)], created=ago(minutes=5), buyer_message="请开发票")
    ApiCall.objects.all().delete()
    pull(top)
    assert Order.objects.get(order_no=str(noted.tid)).buyer_message == "请开发票"
    assert Order.objects.get(order_no=str(plain.tid)).buyer_message == ""
    assert ApiCall.objects.filter(method="taobao.trade.fullinfo.get").count() == 1
    # Stored once; a re-read does not fetch it again.
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=10))
    pull(top)
    assert ApiCall.objects.filter(method="taobao.trade.fullinfo.get").count() == 1


def test_presale_and_unmapped_lines_are_kept_and_flagged(top, shop):
    full_pull_of_an_empty_shop(top, shop)
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=10))
    presale = marketplace.trade_create(shop, lines=[("ERP-1", 1)], type="step", created=ago(minutes=5))
    unmapped = marketplace.trade_create(shop, lines=[("ERP-1", 1), ("NOT-OURS", 3)], created=ago(minutes=5))
    pull(top)
    order = Order.objects.get(order_no=str(presale.tid))
    assert order.is_presale and order.presale_status == "FRONT_PAID_FINAL_NOPAID"
    order = Order.objects.get(order_no=str(unmapped.tid))
    assert order.has_unmapped_lines
    line = OrderItem.objects.get(order=order, erp_product_id="NOT-OURS")
    assert line.product is None and line.quantity == 3


def test_an_expired_session_stops_the_jobs_and_says_so(top, shop):
    faults(shop, session_expired=True)
    summary = pull(top)
    assert summary["outcome"] == RunOutcome.STOPPED
    top.refresh_from_db()
    assert "session" in top.stopped_reason.lower() and not top.is_active
    assert ApiCall.objects.filter(connection=top).count() == 1  # it did not retry forever


def test_a_ban_is_waited_out(top, shop):
    faults(shop, ban_next_seconds=1)
    summary = pull(top)
    assert summary["outcome"] == "ok"
    assert ApiCall.objects.filter(connection=top, outcome="rate_limited").count() == 1


def test_every_marketplace_status_is_known():
    # The sandbox speaks every status the protocol lists; so do we.
    from sync.marketplaces.top.sandbox.models import TradeStatus

    assert set(TradeStatus.values) <= set(STATUS)


def test_an_answer_with_an_unknown_status_is_a_failed_call_and_nothing_of_it_is_applied(top, shop):
    full_pull_of_an_empty_shop(top, shop)
    start = ago(minutes=20)
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=start)
    good = marketplace.trade_create(shop, lines=[("ERP-1", 1)], created=ago(minutes=10))
    bad = marketplace.trade_create(shop, lines=[("ERP-2", 1)], created=ago(minutes=10))
    SandboxTrade.objects.filter(pk=bad.pk).update(status="SOMETHING_NEW")
    summary = pull(top)
    assert summary["outcome"] == RunOutcome.FAILED
    assert "SOMETHING_NEW" in summary["errors"][0]
    assert not Order.objects.filter(order_no__in=[str(good.tid), str(bad.tid)]).exists()  # the page is refused whole
    malformed = ApiCall.objects.filter(connection=top, outcome="malformed")
    assert malformed.exists() and all(call.request_id for call in malformed)
    assert Checkpoint.objects.get(connection=top, module=SyncModule.ORDERS).position == start.replace(microsecond=0) \
        or Checkpoint.objects.get(connection=top, module=SyncModule.ORDERS).position == start
    SandboxTrade.objects.filter(pk=bad.pk).update(status="WAIT_SELLER_SEND_GOODS")
    assert pull(top)["outcome"] == "ok"
    assert Order.objects.filter(order_no__in=[str(good.tid), str(bad.tid)]).count() == 2


def test_slow_answers_time_out_and_are_retried_without_losing_orders(top, shop):
    from functools import partial

    from sync.marketplaces.top.client import TopClient

    from .conftest import short_sleep

    marketplace.trades_generate(shop, 150, start=ago(days=1), end=ago(minutes=30), seed=9)
    # Slow answers take 3 s against a read timeout of 1 s: far enough apart that an ordinary answer on a busy
    # machine does not time out as well. Which answers are slow is drawn from a seeded sequence (4 of the first
    # 6, never 6 in a row), so the pull meets timeouts and retries the same way on every run.
    sandbox_faults.seed(8)
    faults(shop, slow_rate=0.3, slow_seconds=3.0)
    impatient = partial(TopClient, sleep=short_sleep, timeout=(2.0, 1.0))
    # Every trade is from the last day: a full pull over two days finds them all in a handful of calls, where
    # 90 days would add 88 empty day windows (and a timeout for every third of them).
    with mock.patch.object(TopMarketplace, "windows", replace(TopMarketplace.windows, full_days=2)):
        summary = orders_sync(top, client_factory=impatient)
    assert summary["outcome"] == "ok"
    assert summary["failed_calls"] >= 2
    assert ApiCall.objects.filter(connection=top, outcome="network", code="network").count() >= 2
    assert_in_step_with_the_marketplace(shop)
