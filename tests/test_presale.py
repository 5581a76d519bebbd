"""Presale freeze (SPEC S10): each rule on the real services, the ERP hand-off by the merchant's setting,
and the pages (product, dashboard, settings) per role and merchant."""
import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditEntry, Merchant, Order, PresaleHandoff, Product
from merchant.permissions import Actor
from merchant.selectors.presale import presale_frozen_by_product, presale_frozen_summary
from merchant.sellable import sellable_stock
from merchant.services.marketplace_orders import orders_upsert_marketplace
from merchant.services.presale import merchant_presale_handoff_set, presale_freezes_expire
from sync.marketplaces.top.mapping import trade_from_top
from sync.marketplaces.top.times import to_top
from sync.erp.orders import orders_to_hand_over
from sync.models import Connection, ConnectionKind, Outbox
from tests.api.conftest import ErpClient, erp  # noqa: F401  (the signed Open API client fixture)
from tests.factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

DEPOSIT_PAID = "FRONT_PAID_FINAL_NOPAID"


@pytest.fixture
def presale_product(merchant_a):
    return ProductFactory(merchant=merchant_a, erp_product_id="PRE-1", name="预售阿胶", stock=10)


@pytest.fixture
def shop(merchant_a, presale_product):
    return Connection.objects.create(merchant=merchant_a, name="天猫旗舰店", gateway_url="http://x/router/rest",
                                     app_key="k")


def presale(tid=1, *, status="WAIT_BUYER_PAY", stage=DEPOSIT_PAID, due=None, modified=None, num=3, detail=True):
    """A TOP presale trade as trade.fullinfo.get (detail=True, with the balance deadline) or a list call sends it."""
    modified = modified or timezone.now()
    record = {
        "tid": tid, "status": status, "type": "step", "step_trade_status": stage, "step_paid_fee": "6.00",
        "created": to_top(modified - timedelta(hours=1)), "modified": to_top(modified),
        "payment": "30.00", "total_fee": "30.00",
        "orders": {"order": [{"oid": tid * 10 + 1, "outer_sku_id": "PRE-1", "num": num, "price": "10.00"}]},
    }
    if detail and stage == DEPOSIT_PAID:
        record["timeout_action_time"] = to_top(due or modified + timedelta(days=3))
    return trade_from_top(record)


def store(shop, *trades):
    return orders_upsert_marketplace(connection=shop, trades=list(trades))


def sellable(product):
    product = Product.objects.get(pk=product.pk)
    return sellable_stock([product], Merchant.objects.get(pk=product.merchant_id))[product.pk]


def frozen(product):
    return presale_frozen_by_product(product.merchant, [product.pk]).get(product.pk, 0)


def order_of(tid=1) -> Order:
    return Order.objects.get(order_no=str(tid))


# The freeze -------------------------------------------------------------------------------------------------

def test_a_deposit_paid_presale_freezes_its_quantity_once(shop, presale_product):
    due = timezone.now().replace(microsecond=0) + timedelta(days=2)
    store(shop, presale(due=due))

    order = order_of()
    assert order.presale_frozen and order.presale_balance_due_at == due
    assert frozen(presale_product) == 3
    # Frozen is the part of what the pending-payment order holds: 10 - 3, not 10 - 3 - 3.
    assert sellable(presale_product) == 7


def test_a_presale_whose_deposit_is_unpaid_is_not_frozen(shop, presale_product):
    store(shop, presale(stage="FRONT_NOPAID_FINAL_NOPAID"))

    assert not order_of().presale_frozen and frozen(presale_product) == 0
    assert sellable(presale_product) == 7  # held as any unpaid order is


def test_closing_the_trade_releases_the_freeze(shop, presale_product):
    at = timezone.now()
    store(shop, presale(modified=at - timedelta(minutes=5)))
    store(shop, presale(status="TRADE_CLOSED", modified=at))

    assert not order_of().presale_frozen
    assert frozen(presale_product) == 0 and sellable(presale_product) == 10


def test_a_forfeited_deposit_closes_without_freezing(shop, presale_product):
    store(shop, presale(status="TRADE_CLOSED_BY_TAOBAO", stage="FRONT_PAID_FRONT_FORFEITED"))

    assert not order_of().presale_frozen and sellable(presale_product) == 10


def test_paying_the_balance_ends_the_freeze_and_the_order_holds_as_a_paid_one(shop, presale_product):
    at = timezone.now()
    store(shop, presale(modified=at - timedelta(minutes=5)))
    store(shop, presale(status="WAIT_SELLER_SEND_GOODS", stage="FRONT_PAID_FINAL_PAID", modified=at))

    assert not order_of().presale_frozen and frozen(presale_product) == 0
    assert sellable(presale_product) == 7


def test_the_release_pass_frees_presales_past_their_balance_deadline(shop, presale_product):
    due = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    store(shop, presale(1, due=due), presale(2, due=due + timedelta(days=1)))
    assert sellable(presale_product) == 4
    Outbox.objects.update(pending=False)

    assert presale_freezes_expire(now=due - timedelta(seconds=1)) == 0
    assert presale_freezes_expire(now=due) == 1

    assert not order_of(1).presale_frozen and order_of(2).presale_frozen
    assert frozen(presale_product) == 3 and sellable(presale_product) == 7
    entry = AuditEntry.objects.get(entity="order", entity_id=order_of(1).pk, field="presale_frozen")
    assert (entry.old_value, entry.new_value) == ("True", "False")
    assert Outbox.objects.filter(product=presale_product, kind="stock", pending=True).exists()
    assert presale_freezes_expire(now=due) == 0


def test_a_presale_arriving_after_its_deadline_is_not_frozen(shop, presale_product):
    store(shop, presale(due=timezone.now() - timedelta(minutes=1)))

    assert not order_of().presale_frozen and sellable(presale_product) == 10


def test_a_list_answer_without_the_deadline_keeps_the_one_known(shop, presale_product):
    at = timezone.now().replace(microsecond=0)
    due = at + timedelta(days=1)
    store(shop, presale(due=due, modified=at - timedelta(minutes=5)))
    list_copy = presale(modified=at, detail=False)
    assert list_copy.balance_due_wanted

    store(shop, list_copy)

    assert order_of().presale_balance_due_at == due and order_of().presale_frozen


# The ERP hand-off -------------------------------------------------------------------------------------------

def not_taken(erp_client, **params):
    answer = json.loads(erp_client.get("orders", {"sync_status": "not_taken", **params}).content)
    return {o["order_no"]: o for o in answer["orders"]}


def test_a_presale_is_offered_to_the_erp_only_once_its_balance_is_paid(erp, shop):  # noqa: F811
    at = timezone.now()
    store(shop, presale(modified=at - timedelta(minutes=5)))

    assert "1" not in not_taken(erp) and "1" not in not_taken(erp, order_no="1")
    assert not order_of().taken_by_erp

    store(shop, presale(status="WAIT_SELLER_SEND_GOODS", stage="FRONT_PAID_FINAL_PAID", modified=at))
    offered = not_taken(erp)["1"]["basic"]
    assert offered["is_presale"] and offered["presale_status"] == "FRONT_PAID_FINAL_PAID"
    assert offered["presale_frozen"] is False
    assert order_of().taken_by_erp


def test_with_handoff_at_deposit_a_frozen_presale_is_offered_marked_presale(erp, shop, owner):  # noqa: F811
    due = timezone.now().replace(microsecond=0) + timedelta(days=2)
    store(shop, presale(due=due), presale(2, stage="FRONT_NOPAID_FINAL_NOPAID"))
    merchant_presale_handoff_set(merchant=shop.merchant, handoff=PresaleHandoff.DEPOSIT, actor=Actor.for_user(owner))

    offered = not_taken(erp)
    assert "2" not in offered  # the deposit is not paid: nothing to hand over yet
    basic = offered["1"]["basic"]
    assert basic["is_presale"] and basic["presale_frozen"] and basic["presale_status"] == DEPOSIT_PAID
    assert basic["presale_balance_due_at"] == timezone.localtime(due).isoformat()


def test_the_erp_bridge_gets_a_presale_at_balance_or_at_deposit_by_the_setting(shop, owner):
    bridge = Connection.objects.create(merchant=shop.merchant, kind=ConnectionKind.ERP, name="ERP",
                                       gateway_url="http://x/erp", app_key="e")
    at = timezone.now()
    store(shop, presale(1, modified=at))
    paid_presale = presale(2, modified=at - timedelta(minutes=5))
    store(shop, paid_presale)
    store(shop, presale(2, status="WAIT_SELLER_SEND_GOODS", stage="FRONT_PAID_FINAL_PAID", modified=at))

    assert [o.order_no for o in orders_to_hand_over(bridge)] == ["2"]

    merchant_presale_handoff_set(merchant=shop.merchant, handoff=PresaleHandoff.DEPOSIT, actor=Actor.for_user(owner))
    bridge.merchant.refresh_from_db()
    assert sorted(o.order_no for o in orders_to_hand_over(bridge)) == ["1", "2"]


def test_only_the_owner_may_change_the_handoff_and_it_is_audited(merchant_a, owner, operator):
    with pytest.raises(PermissionDenied):
        merchant_presale_handoff_set(merchant=merchant_a, handoff=PresaleHandoff.DEPOSIT,
                                     actor=Actor.for_user(operator))
    merchant_presale_handoff_set(merchant=merchant_a, handoff=PresaleHandoff.DEPOSIT, actor=Actor.for_user(owner))

    assert Merchant.objects.get(pk=merchant_a.pk).presale_handoff == PresaleHandoff.DEPOSIT
    entry = AuditEntry.objects.get(entity="merchant", entity_id=merchant_a.pk, field="presale_handoff")
    assert (entry.old_value, entry.new_value, entry.actor) == ("balance", "deposit", owner)


# Pages ------------------------------------------------------------------------------------------------------

@pytest.fixture
def frozen_presale(shop):
    store(shop, presale(3000000000000077, due=timezone.now() + timedelta(days=2)))
    return order_of(3000000000000077)


@pytest.mark.parametrize("who", ["client_owner", "client_operator", "client_viewer"])
def test_the_product_page_shows_the_frozen_quantity_and_its_orders(request, who, frozen_presale, presale_product,
                                                                    english_pages):
    page = request.getfixturevalue(who).get(presale_product.get_absolute_url()).content.decode()

    assert 'id="presale-card"' in page and 'id="presale-frozen-total">3<' in page
    assert frozen_presale.get_absolute_url() in page and "3000000000000077" in page
    assert "Not yet: waits for the balance" in page


def test_a_product_without_frozen_presales_shows_no_presale_card(client_owner, product):
    assert 'id="presale-card"' not in client_owner.get(product.get_absolute_url()).content.decode()


@pytest.mark.parametrize("who", ["client_owner", "client_operator", "client_viewer"])
def test_the_dashboard_shows_the_frozen_figure_and_card(request, who, frozen_presale, presale_product, english_pages):
    page = request.getfixturevalue(who).get(reverse("dashboard")).content.decode()

    assert 'id="presale-stat"><div class="n">3</div>' in page
    assert 'id="presale-card"' in page and presale_product.get_absolute_url() in page
    settings_link = reverse("presale_settings") in page
    assert settings_link == (who == "client_owner")


def test_the_order_page_says_the_order_is_frozen_until_its_deadline(client_viewer, frozen_presale, english_pages):
    page = client_viewer.get(frozen_presale.get_absolute_url()).content.decode()

    assert 'id="presale-due"' in page and 'id="presale-frozen"' in page


def test_another_merchant_sees_nothing_of_the_freeze(client_outsider, frozen_presale, presale_product, merchant_b):
    assert client_outsider.get(presale_product.get_absolute_url()).status_code == 404
    assert client_outsider.get(frozen_presale.get_absolute_url()).status_code == 404
    page = client_outsider.get(reverse("dashboard")).content.decode()
    assert 'id="presale-stat"><div class="n">0</div>' in page and presale_product.name not in page
    assert presale_frozen_summary(merchant_b).quantity == 0


@pytest.mark.parametrize("who", ["client_operator", "client_viewer"])
def test_only_the_owner_reaches_the_presale_settings(request, who):
    client = request.getfixturevalue(who)
    assert client.get(reverse("presale_settings")).status_code == 403
    assert client.post(reverse("presale_settings"), {"handoff": "deposit"}).status_code == 403


def test_the_owner_switches_the_handoff_to_deposit(client_owner, merchant_a, frozen_presale, english_pages):
    page = client_owner.get(reverse("presale_settings")).content.decode()
    assert "Frozen for presale now: quantity 3, orders 1." in page

    response = client_owner.post(reverse("presale_settings"), {"handoff": "deposit"})

    assert response.status_code == 302
    assert Merchant.objects.get(pk=merchant_a.pk).presale_handoff == PresaleHandoff.DEPOSIT
    assert client_owner.post(reverse("presale_settings"), {"handoff": "never"}).status_code == 400


def test_an_order_of_another_merchant_never_counts_in_the_freeze(merchant_b, presale_product, frozen_presale):
    other = ProductFactory(merchant=merchant_b, erp_product_id="PRE-1", stock=10)
    OrderFactory(merchant=merchant_b, items=[{"product": other, "quantity": 5}], is_presale=True,
                 presale_status=DEPOSIT_PAID, presale_frozen=True, status="pending_payment")

    assert frozen(presale_product) == 3 and frozen(other) == 5
    assert sellable(presale_product) == 7


def test_a_release_by_deadline_is_in_the_order_history_in_merchant_words(client_viewer, shop, english_pages):
    due = timezone.now().replace(microsecond=0) + timedelta(minutes=1)
    store(shop, presale(5, due=due))
    presale_freezes_expire(now=due)

    page = client_viewer.get(order_of(5).get_absolute_url()).content.decode()

    assert "the balance was not paid by its deadline" in page and "frozen for presale" in page.lower()
    assert "presale_frozen" not in page and ">True<" not in page
