"""Every write of stock, price or listing, and every order change that moves sellable stock, records in the
outbox in its own transaction and asks for a push once it commits."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.utils import timezone

from merchant.models import AuditSource, Merchant, OrderSource, OrderStatus, Product
from merchant.permissions import Actor
from merchant.services import catalog, orders
from merchant.services.bulk.common import Item
from merchant.services.inbound import inbound_apply
from merchant.services.marketplace_orders import orders_upsert_marketplace
from merchant.services.stock import stock_recompute_expired_batches, stock_set
from sync.marketplaces.top.mapping import trade_from_top
from sync.models import Connection, Outbox, OutboxKind
from tests.factories import BaseProductFactory, BatchFactory, CarrierFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

ERP = Actor.system(AuditSource.ERP)
TODAY = timezone.localdate()


@pytest.fixture
def shop(merchant_a):
    return Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://127.0.0.1:9/router/rest",
                                     app_key="k")


@pytest.fixture
def products(merchant_a):
    return [ProductFactory(merchant=merchant_a, erp_product_id=f"H-{n}", stock=10) for n in range(3)]


def marked(kind=OutboxKind.STOCK) -> dict[str, int]:
    """{erp product id: generation} of the pending rows of `kind`."""
    return dict(Outbox.objects.filter(kind=kind, pending=True).values_list("product__erp_product_id", "generation"))


def test_a_stock_edit_marks_each_marketplace_connection_and_asks_for_a_push_after_commit(
        shop, merchant_a, products, django_capture_on_commit_callbacks):
    other = Connection.objects.create(merchant=merchant_a, name="other shop", app_key="k2",
                                      gateway_url="http://127.0.0.1:9/router/rest")
    Connection.objects.create(merchant=merchant_a, name="off", app_key="k3", is_enabled=False,
                              gateway_url="http://127.0.0.1:9/router/rest")
    with django_capture_on_commit_callbacks() as callbacks:
        stock_set(product=products[0], quantity=4, actor=ERP)
    rows = Outbox.objects.filter(product=products[0])
    assert sorted(rows.values_list("connection_id", "kind", "generation")) == [
        (shop.pk, "stock", 1), (other.pk, "stock", 1)]
    assert {c.func.__name__ for c in callbacks} == {"push_enqueue"}
    assert sorted((c.keywords["connection_id"], c.keywords["kind"]) for c in callbacks) == [
        (shop.pk, "stock"), (other.pk, "stock")]
    stock_set(product=products[0], quantity=4, actor=ERP)  # no change, nothing to tell
    assert rows.first().generation == 1


def test_a_stopped_connection_still_records_but_asks_for_no_push(shop, products, django_capture_on_commit_callbacks):
    Connection.objects.filter(pk=shop.pk).update(stopped_reason="session expired")
    with django_capture_on_commit_callbacks() as callbacks:
        stock_set(product=products[0], quantity=4, actor=ERP)
    assert marked() == {"H-0": 1} and callbacks == []


def test_a_merchant_without_marketplaces_pays_one_query(merchant_b, django_assert_num_queries):
    product = ProductFactory(merchant=merchant_b, stock=3)
    from sync.outbox import outbox_products_changed

    with django_assert_num_queries(1):
        assert outbox_products_changed(merchant_id=merchant_b.pk, product_ids=[product.pk], kinds=["stock"]) == 0


def test_hand_edits_of_price_listing_batches_and_review_mark_their_kind(shop, merchant_a, products):
    catalog.product_update(product=products[0], default_price=Decimal("9.90"), actor=ERP)
    catalog.product_update(product=products[1], name="renamed", actor=ERP)  # not pushed
    catalog.listing_set(products=[products[1]], listed=False, actor=ERP)
    batched = ProductFactory(merchant=merchant_a, erp_product_id="H-B", batch_managed=True, stock=0)
    catalog.batch_save(product=batched, actor=ERP, batch_no="B1", production_date=TODAY - timedelta(days=9),
                       expiry_date=TODAY + timedelta(days=90), quantity=8)
    pending = ProductFactory(merchant=merchant_a, erp_product_id="H-P", pending=True)
    catalog.product_approve(product=pending, base_product=BaseProductFactory(), actor=ERP)
    assert marked(OutboxKind.PRICE) == {"H-0": 1}
    assert marked(OutboxKind.LISTING) == {"H-1": 1, "H-P": 1}
    assert set(marked(OutboxKind.STOCK)) == {"H-B"}


def test_bulk_writes_mark_what_changed_in_the_same_few_queries_whatever_their_size(shop, merchant_a):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from merchant.services.bulk.stock import StockPlan

    def apply(count: int, prefix: str) -> list[str]:
        batch = [ProductFactory(merchant=merchant_a, erp_product_id=f"{prefix}-{n:03d}", stock=1) for n in range(count)]
        items = [Item(ref=n, values={"erp_product_id": p.erp_product_id, "stock": 5}) for n, p in enumerate(batch)]
        plan = StockPlan(merchant_a)
        outcomes = plan.plan(items, lock=True)
        with CaptureQueriesContext(db) as context:
            plan.apply(outcomes, ERP)
        return [q["sql"] for q in context.captured_queries]

    def ours(queries):
        return [sql for sql in queries if "sync_outbox" in sql or "sync_connection" in sql]

    small, large = ours(apply(5, "S")), ours(apply(150, "L"))
    # The connections, which rows exist, create the missing ones (in as few inserts as the database allows),
    # bump them all: never a query per product.
    assert [sql.split()[0] for sql in small] == ["SELECT", "SELECT", "INSERT", "UPDATE"]
    assert [sql.split()[0] for sql in large if not sql.startswith("INSERT")] == ["SELECT", "SELECT", "UPDATE"]
    assert len(large) <= 3 + 5
    assert len(marked()) == 155 and set(marked().values()) == {1}


def test_open_api_and_erp_items_mark_stock_price_listing_and_batches(shop, merchant_a, products):
    inbound_apply(merchant=merchant_a, kind="stock", actor=ERP,
                  items=[Item(ref=1, values={"erp_product_id": "H-0", "stock": 3})])
    inbound_apply(merchant=merchant_a, kind="prices", actor=ERP, items=[
        Item(ref=1, values={"erp_product_id": "H-1", "price_type": "default", "price": Decimal("7.70")}),
        Item(ref=2, values={"erp_product_id": "H-2", "price_type": "suggested_retail", "price": Decimal("9.90")})])
    inbound_apply(merchant=merchant_a, kind="listing", actor=ERP,
                  items=[Item(ref=1, values={"erp_product_id": "H-2", "listed": False})])
    inbound_apply(merchant=merchant_a, kind="batches", actor=ERP, items=[Item(ref=1, values={
        "erp_product_id": "H-1", "batch_no": "L1", "production_date": TODAY - timedelta(days=5),
        "expiry_date": TODAY + timedelta(days=200), "quantity": 6})])
    inbound_apply(merchant=merchant_a, kind="products", actor=ERP, items=[
        Item(ref=1, values={"erp_product_id": "H-NEW", "name": "New", "default_price": Decimal("3.00"), "stock": 2}),
        Item(ref=2, values={"erp_product_id": "H-0", "default_price": Decimal("4.00")})])
    assert set(marked()) == {"H-0", "H-1", "H-NEW"}
    assert set(marked(OutboxKind.PRICE)) == {"H-1", "H-NEW", "H-0"}
    assert set(marked(OutboxKind.LISTING)) == {"H-2", "H-NEW"}


def test_orders_coming_in_changing_and_shipping_mark_stock_and_logistics(shop, merchant_a, products):
    trade = trade_from_top({
        "tid": 700001, "status": "WAIT_SELLER_SEND_GOODS", "created": "2026-01-02 10:00:00",
        "modified": "2026-01-02 10:00:00", "payment": "25.00", "total_fee": "25.00",
        "orders": {"order": [{"oid": 700002, "num": 2, "price": "12.50", "outer_sku_id": "H-0", "title": "x"}]},
    })
    orders_upsert_marketplace(connection=shop, trades=[trade])
    assert marked() == {"H-0": 1}
    order = merchant_a.orders.get(order_no="700001")
    assert order.source == OrderSource.MARKETPLACE and order.connection == shop
    orders.order_logistics_enter(order=order, carrier=CarrierFactory(code="SF"), tracking_no="SF1", actor=ERP)
    assert marked() == {"H-0": 2}
    logistics = Outbox.objects.get(kind=OutboxKind.LOGISTICS)
    assert logistics.order == order and logistics.pending and logistics.connection == shop
    storefront = OrderFactory(merchant=merchant_a, items=[{"product": products[1], "quantity": 1}])
    orders.order_status_change(order=storefront, status=OrderStatus.CANCELLED, reason="buyer asked", actor=ERP)
    assert marked() == {"H-0": 2, "H-1": 1}
    assert Outbox.objects.filter(kind=OutboxKind.LOGISTICS).count() == 1  # not a marketplace order


def test_changes_to_an_order_the_erp_took_do_not_mark_stock(shop, merchant_a, products):
    taken = OrderFactory(merchant=merchant_a, items=[{"product": products[0], "quantity": 1}], taken_by_erp=True)
    orders.order_status_change(order=taken, status=OrderStatus.CANCELLED, reason="buyer asked", actor=ERP)
    assert marked() == {}


def test_changing_safety_stock_in_the_admin_marks_every_product(shop, merchant_a, products, admin_user):
    admin = site._registry[Merchant]
    request = RequestFactory().post("/")
    request.user = admin_user
    merchant = Merchant.objects.get(pk=merchant_a.pk)
    form_class = admin.get_form(request, merchant, change=True)
    # Every field the admin's form shows, as it stands, with the safety stock changed.
    kept = [f for f in form_class.base_fields if f not in ("safety_stock", "is_active")]
    form = form_class(instance=merchant, data={**{f: getattr(merchant, f) for f in kept},
                                               "safety_stock": 3, "is_active": "on"})
    assert form.is_valid(), form.errors
    admin.save_model(request, form.save(commit=False), form, change=True)
    assert set(marked()) == {"H-0", "H-1", "H-2"}
    assert Merchant.objects.get(pk=merchant_a.pk).safety_stock == 3


def test_a_batch_entering_the_exclusion_window_marks_stock_once_its_sellable_stock_moved(shop, merchant_a):
    Merchant.objects.filter(pk=merchant_a.pk).update(expiry_exclusion_days=30)
    product = ProductFactory(merchant=merchant_a, erp_product_id="H-X", batch_managed=True, stock=15)
    BatchFactory(product=product, quantity=10, expiry_date=TODAY + timedelta(days=200))
    BatchFactory(product=product, quantity=5, expiry_date=TODAY + timedelta(days=31))
    Outbox.objects.create(connection=shop, kind=OutboxKind.STOCK, product=product, due_at=timezone.now(),
                          pushed_value="15")
    stock_recompute_expired_batches(today=TODAY)
    assert marked() == {}  # 15 is still right
    stock_recompute_expired_batches(today=TODAY + timedelta(days=1))  # the 5 are now within 30 days
    assert marked() == {"H-X": 1}
    assert Product.objects.get(pk=product.pk).stock == 15  # stock in force is unchanged: only sellable moved
