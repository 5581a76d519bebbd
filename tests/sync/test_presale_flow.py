"""Presale freeze against the sandbox marketplace over HTTP: polling and the message channel
(taobao_trade_TradeBuyerStepPay at deposit, taobao_trade_TradeBuyerPay at balance), and the quality bar: across
deposit -> balance -> ship, close and a lapsed balance, no presale quantity is ever sold twice."""
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from merchant.models import AuditSource, Merchant, Order, OrderStatus, Product
from merchant.permissions import Actor
from merchant.selectors.presale import presale_frozen_by_product
from merchant.sellable import sellable_stock
from merchant.services.api_credentials import api_credential_create
from merchant.services.presale import presale_freezes_expire
from merchant.services.stock import stock_set
from sync.consumer import Consumer
from sync.models import Checkpoint, ProcessedMessage, SyncModule
from sync.pipelines import orders_sync
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxMessage
from tests.api.conftest import ErpClient

from .conftest import ago, fast_client, full_pull_of_an_empty_shop

pytestmark = pytest.mark.django_db(transaction=True)

STEP_PAY, BUYER_PAY = "taobao_trade_TradeBuyerStepPay", "taobao_trade_TradeBuyerPay"


@pytest.fixture
def synced(top, shop):
    """A connection whose full pull is done (over an empty shop)."""
    full_pull_of_an_empty_shop(top, shop)
    return top


def poll(connection):
    """One incremental pull over the last hour (each change below is stamped minutes ago, past the settle lag)."""
    Checkpoint.objects.filter(connection=connection, module=SyncModule.ORDERS).update(position=ago(hours=1))
    summary = orders_sync(connection, client_factory=fast_client)
    assert summary["outcome"] == "ok", summary
    return summary


def product(erp_id) -> Product:
    return Product.objects.get(erp_product_id=erp_id)


def sellable(erp_id) -> int:
    p = product(erp_id)
    return sellable_stock([p], Merchant.objects.get(pk=p.merchant_id))[p.pk]


def frozen(erp_id) -> int:
    p = product(erp_id)
    return presale_frozen_by_product(p.merchant, [p.pk]).get(p.pk, 0)


def order_of(trade) -> Order:
    return Order.objects.get(order_no=str(trade.tid))


def test_a_presale_run_deposit_balance_ship_never_sells_its_quantity_twice(synced, shop, client, merchant_a, owner):
    credential, secret = api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="ERP")
    erp = ErpClient(client, credential.key, secret)

    def erp_takes():
        answer = json.loads(erp.get("orders", {"sync_status": "not_taken"}).content)
        return {o["order_no"] for o in answer["orders"]}

    physical = product("ERP-1").stock  # 10, what the warehouse has before anything ships
    presale = marketplace.trade_create(shop, lines=[("ERP-1", 4)], type="step", created=ago(minutes=50),
                                       balance_due=timezone.now() + timedelta(days=2))
    poll(synced)
    # Deposit paid: frozen, and the shops may sell only the rest.
    assert order_of(presale).presale_frozen and order_of(presale).presale_balance_due_at is not None
    assert (frozen("ERP-1"), sellable("ERP-1")) == (4, physical - 4)
    assert str(presale.tid) not in erp_takes()  # withheld from the ERP until the balance is paid

    plain = marketplace.trade_create(shop, lines=[("ERP-1", 2)], created=ago(minutes=45))
    poll(synced)
    assert (frozen("ERP-1"), sellable("ERP-1")) == (4, physical - 4 - 2)

    marketplace.trade_advance(presale, at=ago(minutes=40))  # the balance
    poll(synced)
    order = order_of(presale)
    assert not order.presale_frozen and order.status == OrderStatus.AWAITING_SHIPMENT
    assert (frozen("ERP-1"), sellable("ERP-1")) == (0, physical - 4 - 2)

    assert erp_takes() == {str(presale.tid), str(plain.tid)}
    # The ERP has them now and reports its stock with both out; nothing is taken off a second time.
    stock_set(product=product("ERP-1"), quantity=physical - 6, actor=Actor.system(AuditSource.ERP))
    assert sellable("ERP-1") == physical - 4 - 2

    marketplace.trade_advance(presale, at=ago(minutes=30))  # shipped
    poll(synced)
    assert order_of(presale).status == OrderStatus.SHIPPED
    assert sellable("ERP-1") == physical - 4 - 2


def test_a_presale_closed_before_its_balance_goes_back_on_sale(synced, shop):
    presale = marketplace.trade_create(shop, lines=[("ERP-2", 3)], type="step", created=ago(minutes=50))
    poll(synced)
    assert (frozen("ERP-2"), sellable("ERP-2")) == (3, 7)

    marketplace.trade_set_status(presale, "TRADE_CLOSED", at=ago(minutes=40))
    poll(synced)

    assert order_of(presale).status == OrderStatus.CANCELLED and not order_of(presale).presale_frozen
    assert (frozen("ERP-2"), sellable("ERP-2")) == (0, 10)


def test_a_lapsed_balance_is_released_on_time_and_its_close_later_changes_nothing(synced, shop):
    due = timezone.now().replace(microsecond=0) + timedelta(minutes=2)
    presale = marketplace.trade_create(shop, lines=[("ERP-3", 5)], type="step", created=ago(minutes=50),
                                       balance_due=due)
    poll(synced)
    assert order_of(presale).presale_balance_due_at == due
    assert (frozen("ERP-3"), sellable("ERP-3")) == (5, 5)

    # The deadline passes; the marketplace's close has not reached us yet.
    assert presale_freezes_expire(now=due + timedelta(seconds=1)) == 1
    assert order_of(presale).status == OrderStatus.PENDING_PAYMENT
    assert (frozen("ERP-3"), sellable("ERP-3")) == (0, 10)
    poll(synced)  # the same trade again, still waiting for its balance: not frozen again
    assert (frozen("ERP-3"), sellable("ERP-3")) == (0, 10)

    marketplace.trade_balance_lapse(presale, at=ago(minutes=20))
    poll(synced)
    assert order_of(presale).status == OrderStatus.CANCELLED
    assert (frozen("ERP-3"), sellable("ERP-3")) == (0, 10)


def test_the_message_channel_freezes_at_step_pay_and_releases_at_buyer_pay(synced, shop):
    consumer = Consumer(only=[synced.pk], client_factory=fast_client)
    consumer.poll(synced)  # permits the channel
    presale = marketplace.trade_create(shop, lines=[("ERP-4", 2)], type="step",
                                       step_trade_status="FRONT_NOPAID_FINAL_NOPAID")
    consumer.poll(synced)
    assert not order_of(presale).presale_frozen

    marketplace.trade_advance(presale)  # the deposit
    assert SandboxMessage.objects.filter(shop=shop, topic=STEP_PAY).count() == 1
    consumer.poll(synced)
    order = order_of(presale)
    assert order.presale_frozen and order.presale_balance_due_at is not None  # fetched with trade.fullinfo.get
    assert (frozen("ERP-4"), sellable("ERP-4")) == (2, 8)

    marketplace.trade_advance(presale)  # the balance
    consumer.poll(synced)
    order = order_of(presale)
    assert not order.presale_frozen and order.status == OrderStatus.AWAITING_SHIPMENT
    assert (frozen("ERP-4"), sellable("ERP-4")) == (0, 8)
    assert {STEP_PAY, BUYER_PAY} <= set(ProcessedMessage.objects.filter(connection=synced)
                                        .values_list("topic", flat=True))


def test_a_presale_created_with_its_deposit_paid_announces_it(shop):
    presale = marketplace.trade_create(shop, lines=[("ERP-1", 1)], type="step")
    shop.tmc_enabled = True
    shop.save()
    again = marketplace.trade_create(shop, lines=[("ERP-1", 1)], type="step")

    topics = list(SandboxMessage.objects.filter(shop=shop).order_by("pk").values_list("topic", flat=True))
    assert topics == ["taobao_trade_TradeCreate", STEP_PAY]
    assert presale.data["timeout_action_time"] and again.data["timeout_action_time"]


def test_the_sandbox_closes_presales_whose_balance_deadline_passed(shop):
    now = timezone.now().replace(microsecond=0)
    due_soon = marketplace.trade_create(shop, lines=[("ERP-1", 1)], type="step", balance_due=now + timedelta(minutes=5))
    due_later = marketplace.trade_create(shop, lines=[("ERP-1", 1)], type="step", balance_due=now + timedelta(hours=2))

    assert marketplace.balances_lapse(shop, now=now + timedelta(minutes=4)) == 0
    assert marketplace.balances_lapse(shop, now=now + timedelta(minutes=5)) == 1

    due_soon.refresh_from_db()
    due_later.refresh_from_db()
    assert due_soon.status == "TRADE_CLOSED_BY_TAOBAO" and due_later.status == "WAIT_BUYER_PAY"
