"""The domain's change log (merchant.changes): services report what changed inside their transaction; the
subscribers registered at start (sync's outbox writer) hear it there, so a rolled-back write records nothing
and a committed one never misses its record; with no subscriber the back office works alone."""
from decimal import Decimal

import pytest
from django.db import transaction

from merchant import changes
from merchant.models import AuditSource, OrderStatus
from merchant.permissions import Actor
from merchant.services import catalog, orders
from merchant.services.stock import stock_set
from sync.enqueue import push_job_id, sync_job_id
from sync.models import Connection, Outbox, OutboxKind, SyncModule
from sync.outbox import OutboxWriter
from tests.factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

ERP = Actor.system(AuditSource.ERP)


class Recorder:
    """A subscriber that keeps what it heard."""

    def __init__(self):
        self.heard = []

    def products_changed(self, *, merchant_id, product_ids, kinds):
        self.heard.append(("products", merchant_id, product_ids, kinds))
        return 0

    def orders_changed(self, *, orders):
        self.heard.append(("orders", [order.pk for order in orders]))
        return 0

    def expiring_batches_recheck(self, *, today):
        self.heard.append(("expiring", today))
        return 0


@pytest.fixture
def shop(merchant_a):
    return Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://127.0.0.1:9/router/rest",
                                     app_key="k")


@pytest.fixture
def alone(monkeypatch):
    """The back office with no subscriber (no sync app listening)."""
    monkeypatch.setattr(changes, "_subscribers", [])


@pytest.fixture
def recorder(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(changes, "_subscribers", [recorder])
    return recorder


def test_sync_subscribes_its_outbox_writer_once_at_start():
    assert [s for s in changes.subscribers() if isinstance(s, OutboxWriter)] == [OutboxWriter()]
    changes.subscribe(OutboxWriter())  # ready() running again registers nothing twice
    assert sum(isinstance(s, OutboxWriter) for s in changes.subscribers()) == 1


def test_with_no_subscriber_a_write_records_nothing_and_still_succeeds(alone, shop, merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=10)
    assert stock_set(product=product, quantity=4, actor=ERP).stock == 4
    assert changes.products_changed(merchant_id=merchant_a.pk, product_ids=[product.pk], kinds=["stock"]) == 0
    assert not Outbox.objects.exists()


def test_the_outbox_row_commits_and_rolls_back_with_the_write(shop, merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=10)
    with pytest.raises(RuntimeError), transaction.atomic():
        stock_set(product=product, quantity=4, actor=ERP)
        assert Outbox.objects.filter(product=product, kind=OutboxKind.STOCK).exists()  # written in the transaction
        raise RuntimeError("the write failed after recording")
    assert not Outbox.objects.exists()
    product.refresh_from_db()
    assert product.stock == 10

    stock_set(product=product, quantity=4, actor=ERP)
    assert Outbox.objects.get(product=product, kind=OutboxKind.STOCK).pending


def test_subscribers_hear_kinds_by_field_and_nothing_for_fields_the_outside_does_not_see(recorder, merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=10)
    catalog.product_update(product=product, default_price=Decimal("9.90"), actor=ERP)
    catalog.product_update(product=product, name="renamed", actor=ERP)
    assert recorder.heard == [("products", merchant_a.pk, [product.pk], ("price",))]
    assert changes.kinds_of(["name", "listing_state", "batch_managed", "stock"]) == ("listing", "stock")


def test_an_order_change_names_the_stock_it_moves_unless_the_erp_took_it(recorder, merchant_a):
    product = ProductFactory(merchant=merchant_a, stock=10)
    untaken = OrderFactory(merchant=merchant_a, items=[{"product": product, "quantity": 2}])
    taken = OrderFactory(merchant=merchant_a, items=[{"product": product, "quantity": 1}], taken_by_erp=True)
    changes.orders_changed(orders=[untaken, taken])
    assert recorder.heard == [("products", merchant_a.pk, [product.pk], ("stock",)),
                              ("orders", [untaken.pk, taken.pk])]
    recorder.heard.clear()
    orders.order_status_change(order=taken, status=OrderStatus.CANCELLED, reason="buyer asked", actor=ERP)
    assert recorder.heard == [("orders", [taken.pk])]


def test_only_the_settings_sellable_stock_depends_on_change_every_product(recorder, merchant_a):
    assert changes.settings_changed(merchant_id=merchant_a.pk, fields=["name", "is_active"]) == 0
    assert recorder.heard == []
    changes.settings_changed(merchant_id=merchant_a.pk, fields=["name", "safety_stock"])
    assert recorder.heard == [("products", merchant_a.pk, None, ("stock",))]


def test_the_dispatcher_and_the_after_commit_request_name_a_push_alike(shop):
    assert push_job_id(shop.pk, OutboxKind.STOCK) == sync_job_id(shop.pk, SyncModule.STOCK)
    assert push_job_id(shop.pk, OutboxKind.LOGISTICS) == sync_job_id(shop.pk, SyncModule.LOGISTICS)
