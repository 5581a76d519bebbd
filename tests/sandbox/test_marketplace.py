"""The sandbox marketplace's state changes: shops, items, trades, refunds, messages, generation, demo activity."""
import io
import json
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from sync.marketplaces.top.sandbox import jobs, marketplace
from sync.marketplaces.top.sandbox.models import SandboxMessage, SandboxRefund, SandboxShop, SandboxSku, SandboxTrade
from tests.factories import MerchantFactory, ProductFactory

START = timezone.now().replace(microsecond=0) - timedelta(days=10)


@pytest.fixture
def shop(db):
    shop = marketplace.shop_create(app_key="app-1", app_secret="secret", session="session", nick="演示店")
    marketplace.items_from_products(shop, [
        ("ERP-1", "阿莫西林胶囊", Decimal("12.50"), 100),
        ("ERP-2", "布洛芬缓释胶囊", Decimal("23.00"), 50),
        ("ERP-3", "维生素C片", Decimal("8.80"), 10),
    ])
    return shop


def topics(shop) -> list[str]:
    return list(SandboxMessage.objects.filter(shop=shop).order_by("pub_time", "id").values_list("topic", flat=True))


# ------------------------------------------------------------------ shops and items


def test_shop_create_is_idempotent_on_app_key_and_a_new_session_unexpires(db):
    first = marketplace.shop_create(app_key="k", app_secret="s1", session="t1")
    SandboxShop.objects.filter(pk=first.pk).update(session_expired=True, error_rate=0.2)

    same = marketplace.shop_create(app_key="k", app_secret="s2", session="t2", nick="renamed")

    assert same.pk == first.pk and SandboxShop.objects.count() == 1
    assert (same.app_secret, same.session, same.nick, same.session_expired) == ("s2", "t2", "renamed", False)
    assert same.error_rate == 0.2 and same.user_id == first.user_id


def test_items_from_products_upserts_by_outer_sku_id(shop):
    written = marketplace.items_from_products(shop, [
        ("ERP-1", "阿莫西林胶囊 新包装", Decimal("13.00"), 7), ("ERP-4", "板蓝根颗粒", Decimal("15.00"), 3),
    ])

    skus = {sku.outer_sku_id: sku for sku in SandboxSku.objects.select_related("item")}
    assert written == 2 and len(skus) == 4
    assert (skus["ERP-1"].price, skus["ERP-1"].quantity, skus["ERP-1"].item.title) == (
        Decimal("13.00"), 7, "阿莫西林胶囊 新包装",
    )
    assert skus["ERP-4"].item.outer_id == "ERP-4"
    assert len({sku.sku_id for sku in skus.values()}) == len({sku.item.num_iid for sku in skus.values()}) == 4


# ------------------------------------------------------------------ trades


def test_trade_create_prices_lines_from_skus_and_keeps_unmapped_lines(shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 2), ("GONE-7", 1)], post_fee=Decimal("8.00"))

    first, unmapped = trade.lines
    assert (trade.status, trade.type, trade.data["payment"], trade.data["total_fee"]) == (
        "WAIT_SELLER_SEND_GOODS", "fixed", "43.00", "35.00",
    )
    assert (first["price"], first["payment"], first["sku_id"]) == (
        "12.50", "25.00", str(SandboxSku.objects.get(outer_sku_id="ERP-1").sku_id),
    )
    assert (unmapped["outer_sku_id"], unmapped["num_iid"], unmapped["price"]) == ("GONE-7", 0, "10.00")
    assert trade.tid >= 3_000_000_000_000_000 and trade.pay_time == trade.created == trade.modified


def test_a_single_line_trade_carries_the_post_fee_in_its_line_payment(shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-2", 1)], post_fee=Decimal("8.00"))

    assert (trade.lines[0]["payment"], trade.data["payment"], trade.data["price"]) == ("31.00", "31.00", "23.00")


def test_ids_are_distinct_across_trades_and_lines(shop):
    trades = [marketplace.trade_create(shop, lines=[("ERP-1", 1), ("ERP-2", 1)]) for _ in range(3)]

    ids = [t.tid for t in trades] + [line["oid"] for t in trades for line in t.lines]
    assert len(set(ids)) == 9


def test_presale_defaults_to_a_paid_deposit_and_an_unpaid_balance(shop):
    presale = marketplace.trade_create(shop, lines=[("ERP-2", 2)], type="step")

    assert (presale.status, presale.step_trade_status, presale.data["step_paid_fee"]) == (
        "WAIT_BUYER_PAY", "FRONT_PAID_FINAL_NOPAID", "9.20",
    )
    marketplace.trade_advance(presale)
    assert (presale.status, presale.step_trade_status, presale.data["step_paid_fee"]) == (
        "WAIT_SELLER_SEND_GOODS", "FRONT_PAID_FINAL_PAID", "46.00",
    )


def test_trade_advance_walks_to_finished_stamping_times_and_publishing(shop):
    marketplace.tmc_permit(shop)
    start = timezone.now().replace(microsecond=0) - timedelta(hours=5)
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)], status="WAIT_BUYER_PAY", created=start)

    for hour in (1, 2, 3, 4):
        marketplace.trade_advance(trade, at=start + timedelta(hours=hour))

    stored = SandboxTrade.objects.get()
    assert stored.status == "TRADE_FINISHED" and stored.lines[0]["status"] == "TRADE_FINISHED"
    assert (stored.pay_time, stored.consign_time, stored.end_time) == tuple(
        start + timedelta(hours=h) for h in (1, 2, 3)
    )
    assert stored.modified == start + timedelta(hours=3)  # the fourth step found nothing to do
    assert topics(shop) == [
        "taobao_trade_TradeCreate", "taobao_trade_TradeBuyerPay", "taobao_trade_TradeSellerShip",
        "taobao_trade_TradeSuccess",
    ]


def test_trade_set_status_works_on_the_stored_trade_not_a_stale_copy(shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)])
    stale = SandboxTrade.objects.get(pk=trade.pk)
    marketplace.trade_set_memo(trade, "加急")

    marketplace.trade_set_status(stale, "TRADE_CLOSED")

    stored = SandboxTrade.objects.get()
    assert stored.data["seller_memo"] == "加急" and stored.status == "TRADE_CLOSED" and stored.end_time


def test_no_messages_without_the_channel(shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)])
    marketplace.trade_advance(trade)

    assert not SandboxMessage.objects.exists()


# ------------------------------------------------------------------ refunds


def test_refund_create_marks_the_line_and_moves_the_trade(shop):
    marketplace.tmc_permit(shop)
    created = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1), ("ERP-2", 1)], created=created)
    later = created + timedelta(minutes=30)

    refund = marketplace.refund_create(trade, oid=trade.lines[1]["oid"], at=later)

    stored = SandboxTrade.objects.get()
    assert [line["refund_status"] for line in stored.lines] == ["NO_REFUND", "WAIT_SELLER_AGREE"]
    assert stored.lines[1]["refund_id"] == str(refund.refund_id)
    assert (stored.modified, refund.refund_fee, refund.tid) == (later, Decimal("23.00"), trade.tid)
    assert topics(shop)[-1] == "taobao_refund_RefundCreated"
    content = json.loads(SandboxMessage.objects.get(topic="taobao_refund_RefundCreated").content)
    assert (content["tid"], content["oid"], content["refund_id"]) == (trade.tid, refund.oid, refund.refund_id)


def test_refund_of_an_unknown_line_is_refused(shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)])

    with pytest.raises(ValueError):
        marketplace.refund_create(trade, oid=12345)


def test_refunds_succeeding_on_every_line_close_the_trade(shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1), ("ERP-2", 1)])
    first, second = marketplace.refund_create(trade), marketplace.refund_create(trade)

    marketplace.refund_set_status(first, "SUCCESS")
    partly = SandboxTrade.objects.get()
    marketplace.refund_set_status(second, "SUCCESS")
    closed = SandboxTrade.objects.get()

    assert partly.status == "WAIT_SELLER_SEND_GOODS"
    assert [line["status"] for line in partly.lines] == ["TRADE_CLOSED", "WAIT_SELLER_SEND_GOODS"]
    assert closed.status == "TRADE_CLOSED" and closed.end_time is not None
    assert [line["refund_status"] for line in closed.lines] == ["SUCCESS", "SUCCESS"]


def test_refund_advance_follows_the_return_flow_for_shipped_goods(shop):
    trade = marketplace.trade_create(shop, lines=[("ERP-1", 1)], status="WAIT_BUYER_CONFIRM_GOODS")
    refund = marketplace.refund_create(trade)

    seen = []
    for _ in range(4):
        seen.append(marketplace.refund_advance(refund).status)

    assert seen == ["WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS", "SUCCESS", "SUCCESS"]
    assert SandboxTrade.objects.get().status == "TRADE_CLOSED"


# ------------------------------------------------------------------ generation


def test_trades_generate_spreads_trades_over_the_window(shop):
    shop.buyer_message_rate = 0.5
    shop.save()
    marketplace.tmc_permit(shop)
    end = START + timedelta(days=10)

    made = marketplace.trades_generate(shop, 2500, start=START, end=end, seed=3)

    trades = list(SandboxTrade.objects.all())
    assert made == len(trades) == 2500 == len({t.tid for t in trades})
    assert all(START <= t.created <= t.modified <= end for t in trades)
    middle = START + timedelta(days=5)
    assert 1000 < sum(t.created < middle for t in trades) < 1500
    assert all(1 <= len(t.lines) <= 3 for t in trades)
    with_message = sum(t.data["has_buyer_message"] for t in trades)
    assert 1000 < with_message < 1500
    assert all(bool(t.data.get("buyer_message")) == t.data["has_buyer_message"] for t in trades)
    assert {t.status for t in trades} >= {"WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "TRADE_FINISHED"}
    assert all(t.pay_time for t in trades if t.status == "WAIT_SELLER_SEND_GOODS")
    assert SandboxMessage.objects.filter(topic="taobao_trade_TradeCreate").count() == 2500


def test_trades_generate_draws_from_the_given_statuses(shop):
    marketplace.trades_generate(shop, 50, start=START, end=START + timedelta(hours=1), statuses=["WAIT_BUYER_PAY"])

    assert set(SandboxTrade.objects.values_list("status", flat=True)) == {"WAIT_BUYER_PAY"}
    assert not SandboxMessage.objects.exists()


def test_trades_generate_needs_skus(db):
    empty = marketplace.shop_create(app_key="empty", app_secret="s", session="t")

    with pytest.raises(ValueError):
        marketplace.trades_generate(empty, 5, start=START, end=START + timedelta(days=1))


# ------------------------------------------------------------------ demo activity


class _EventfulRandom(random.Random):
    """Seeded, except that every "now and then" happens."""

    def random(self):
        return 0.0

    def getrandbits(self, k):
        # Defined here so that randint() and sample() keep drawing bits instead of calling random().
        return super().getrandbits(k)


def test_activity_tick_reports_what_it_changed(shop):
    marketplace.tmc_permit(shop)
    totals = {"trades_created": 0, "trades_advanced": 0, "refunds_opened": 0, "refunds_settled": 0}
    rng = _EventfulRandom(5)

    for _ in range(10):
        for kind, count in marketplace.activity_tick(shop, rng=rng).items():
            totals[kind] += count

    assert SandboxTrade.objects.count() == totals["trades_created"] > 0
    assert totals["trades_advanced"] > 0
    assert SandboxRefund.objects.count() == totals["refunds_opened"] > 0
    assert totals["refunds_settled"] > 0
    assert SandboxMessage.objects.filter(topic="taobao_trade_TradeCreate").count() == totals["trades_created"]
    assert not any(t.data["has_buyer_message"] for t in SandboxTrade.objects.all())  # buyer_message_rate is 0


def test_sandbox_activity_ticks_only_demo_shops(shop):
    quiet = marketplace.shop_create(app_key="quiet", app_secret="s", session="t")
    marketplace.items_from_products(quiet, [("Q-1", "静", Decimal("1.00"), 1)])
    SandboxShop.objects.filter(pk=shop.pk).update(demo_activity=True)

    changed = sum(jobs.sandbox_activity() for _ in range(20))

    assert changed > 0
    assert SandboxTrade.objects.filter(shop=shop).exists()
    assert not SandboxTrade.objects.filter(shop=quiet).exists()


# ------------------------------------------------------------------ management command


def test_sandbox_shop_command_builds_a_shop_from_a_merchant(db):
    merchant = MerchantFactory(code="acme")
    ProductFactory.create_batch(3, merchant=merchant)
    out = io.StringIO()

    call_command("sandbox_shop", "--app-key", "demo-key", "--app-secret", "s", "--session", "t",
                 "--from-merchant", "acme", "--trades", "20", "--days", "2", "--error-rate", "0.1",
                 "--ban-calls-per-minute", "100", "--demo-activity", "--tmc", stdout=out)

    printed = json.loads(out.getvalue())
    shop = SandboxShop.objects.get(app_key="demo-key")
    assert printed == {
        "shop_id": shop.pk, "app_key": "demo-key", "nick": "sandbox-shop", "tmc_enabled": True,
        "items": 3, "skus": 3, "trades": 20, "generated": 20,
    }
    assert (shop.error_rate, shop.ban_calls_per_minute, shop.demo_activity) == (0.1, 100, True)
    assert set(SandboxSku.objects.values_list("outer_sku_id", flat=True)) == set(
        merchant.products.values_list("erp_product_id", flat=True)
    )


def test_sandbox_shop_command_rerun_keeps_settings_it_is_not_given(db):
    call_command("sandbox_shop", "--app-key", "k", "--app-secret", "s", "--session", "t", "--drop-rate", "0.3",
                 stdout=io.StringIO())
    call_command("sandbox_shop", "--app-key", "k", "--app-secret", "s", "--session", "t", "--no-demo-activity",
                 stdout=io.StringIO())

    shop = SandboxShop.objects.get()
    assert (shop.drop_rate, shop.demo_activity) == (0.3, False)


def test_sandbox_shop_command_rejects_an_unknown_merchant(db):
    with pytest.raises(CommandError):
        call_command("sandbox_shop", "--app-key", "k", "--app-secret", "s", "--session", "t",
                     "--from-merchant", "nobody", stdout=io.StringIO())
