"""Stock, price and listing pushes from the outbox to the sandbox marketplace over real HTTP: batching,
per-SKU acknowledgements, changes racing a push, killed workers, and faults."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchant.models import AuditSource, ListingState, Merchant, Product
from merchant.permissions import Actor
from merchant.services.catalog import listing_set, product_update
from merchant.services.stock import stock_set
from sync.pipelines import push as outbound
from sync.errors import SyncError
from sync.models import MarketplaceSku, Outbox, OutboxKind, RunOutcome, SyncRun
from sync.outbox import IN_FLIGHT, MAX_ATTEMPTS, outbox_claim, outbox_products_changed
from sync.pipelines import push_sync
from sync.runs import run_summary
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxCall, SandboxItem, SandboxSku
from tests.factories import OrderFactory, ProductFactory

from .conftest import fast_client, faults

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

SYSTEM = Actor.system(AuditSource.ERP)


class WorkerKilled(BaseException):
    """Stands for the worker process dying: nothing after the point where it is raised runs."""


class Recorder:
    """A client factory that keeps every successful call's method and parameters, and can run something
    right after a given method's call came back (once): a change racing the push, or a crash."""

    def __init__(self):
        self.calls = []
        self.after = {}

    def __call__(self, connection, **kwargs):
        client = fast_client(connection, **kwargs)
        real = client.call

        def call(method, params=None, *, read=None):
            answer = real(method, params, read=read)
            self.calls.append((method, dict(params or {})))
            hook = self.after.pop(method, None)
            if hook:
                hook()
            return answer

        client.call = call
        return client

    def of(self, method):
        return [params for name, params in self.calls if name == method]


def push(connection, module="stock", recorder=None, **kwargs):
    """Run a push; a failed run re-raises for RQ's retry, so return its recorded summary instead."""
    try:
        return push_sync(connection, module=module, client_factory=recorder or fast_client, **kwargs)
    except SyncError:
        return run_summary(SyncRun.objects.filter(connection=connection).latest("started_at", "id"))


def sku(code) -> SandboxSku:
    return SandboxSku.objects.select_related("item").get(outer_sku_id=code)


def row(product, kind=OutboxKind.STOCK) -> Outbox:
    return Outbox.objects.get(product=product, kind=kind)


def later(minutes):
    return timezone.now() + timedelta(minutes=minutes)


def test_a_stock_edit_pushes_sellable_stock_and_records_the_acknowledgement(top, catalog):
    Merchant.objects.filter(pk=top.merchant_id).update(safety_stock=2)
    product = catalog[0]
    OrderFactory(merchant=product.merchant, items=[{"product": product, "quantity": 3}])
    stock_set(product=product, quantity=40, actor=SYSTEM)
    assert row(product).pending

    summary = push(top)

    assert summary["outcome"] == "ok" and summary["pushed"] == 1 and summary["failed"] == 0
    assert sku(product.erp_product_id).quantity == 40 - 3 - 2
    entry = row(product)
    assert not entry.pending and entry.pushed_value == "35" and entry.pushed_at and entry.last_error == ""
    assert entry.done_generation == entry.generation
    # Only the changed SKU went out; the others keep their marketplace quantity.
    assert sku(catalog[1].erp_product_id).quantity == 100
    # Nothing left to push: the next run makes no call.
    assert push(top)["calls"] == 0


def test_a_burst_of_changes_is_one_row_and_one_push_of_the_last_value(top, catalog):
    product = catalog[0]
    for quantity in (11, 12, 13, 14):
        stock_set(product=product, quantity=quantity, actor=SYSTEM)
    assert Outbox.objects.filter(product=product, kind=OutboxKind.STOCK).count() == 1
    assert row(product).generation == 4
    recorder = Recorder()
    push(top, recorder=recorder)
    assert len(recorder.of("taobao.skus.quantity.update")) == 1
    assert sku(product.erp_product_id).quantity == 14


def test_stock_goes_out_at_most_20_skus_per_call_one_item_per_call(top, shop, merchant_a, monkeypatch):
    monkeypatch.setattr(outbound, "LOOKUPS_PER_RUN", 100)
    many = [ProductFactory(merchant=merchant_a, erp_product_id=f"MULTI-{n:02d}", stock=5) for n in range(45)]
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, 0) for p in many],
                                    skus_per_item=45)
    recorder = Recorder()
    outbox_products_changed(merchant_id=merchant_a.pk, product_ids=[p.pk for p in many], kinds=["stock"])
    summary = push(top, recorder=recorder)

    calls = recorder.of("taobao.skus.quantity.update")
    sizes = sorted(len(params["skuid_quantities"].split(";")) for params in calls)
    assert sizes == [5, 20, 20]
    assert {params["num_iid"] for params in calls} == {sku("MULTI-00").item.num_iid}
    assert summary["pushed"] == 45
    assert set(SandboxSku.objects.filter(outer_sku_id__startswith="MULTI-").values_list("quantity", flat=True)) == {5}
    assert SandboxItem.objects.get(num_iid=sku("MULTI-00").item.num_iid).quantity == 45 * 5
    # Where each SKU lives was looked up once and is kept for the next push.
    assert len(recorder.of("taobao.skus.custom.get")) == 45
    stock_set(product=many[0], quantity=9, actor=SYSTEM)
    recorder.calls.clear()
    push(top, recorder=recorder)
    assert [method for method, _ in recorder.calls] == ["taobao.skus.quantity.update"]


def test_a_first_push_of_many_products_spreads_its_lookups_over_runs(top, shop, merchant_a):
    many = [ProductFactory(merchant=merchant_a, erp_product_id=f"NEW-{n:02d}", stock=4) for n in range(35)]
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, 0) for p in many],
                                    skus_per_item=35)
    outbox_products_changed(merchant_id=merchant_a.pk, product_ids=[p.pk for p in many], kinds=["stock"])
    recorder = Recorder()

    first = push(top, recorder=recorder)

    assert len(recorder.of("taobao.skus.custom.get")) == outbound.LOOKUPS_PER_RUN == 30
    assert first["pushed"] == 30 and first["failed"] == 0
    waiting = Outbox.objects.filter(product__in=many, pending=True)
    assert waiting.count() == 5
    assert {(r.attempts, r.last_error) for r in waiting} == {(0, "")}  # not tried, so nothing counts against them
    assert push(top, now=later(2))["pushed"] == 5
    assert set(SandboxSku.objects.filter(outer_sku_id__startswith="NEW-").values_list("quantity", flat=True)) == {4}


def test_each_sku_is_acknowledged_on_its_own_and_an_unknown_one_is_skipped_without_a_failure(top, catalog, merchant_a):
    stranger = ProductFactory(merchant=merchant_a, erp_product_id="NOT-THERE")
    for product, quantity in ((catalog[0], 21), (catalog[1], 22), (stranger, 23)):
        stock_set(product=product, quantity=quantity, actor=SYSTEM)

    summary = push(top)

    assert summary["outcome"] == "ok" and summary["pushed"] == 2 and summary["failed"] == 0
    assert summary["skipped"] == 1 and summary["errors"] == []
    assert (row(catalog[0]).pushed_value, row(catalog[1]).pushed_value) == ("21", "22")
    skipped = row(stranger)
    assert not skipped.failed_at and not skipped.pending and skipped.pushed_value == "" and skipped.last_error == ""
    assert not MarketplaceSku.objects.get(product=stranger).found
    from merchant.models import Notification

    assert not Notification.objects.exists()


def test_a_sku_refused_inside_a_batch_is_singled_out_and_the_others_still_go(top, shop, merchant_a):
    products = [ProductFactory(merchant=merchant_a, erp_product_id=f"PACK-{n}", stock=3) for n in range(4)]
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, 0) for p in products],
                                    skus_per_item=4)
    outbox_products_changed(merchant_id=merchant_a.pk, product_ids=[p.pk for p in products], kinds=["stock"])
    push(top)
    assert all(row(p).pushed_value == "3" for p in products)
    # The seller deletes one SKU; the next batch is refused as a whole.
    SandboxSku.objects.filter(outer_sku_id="PACK-2").delete()
    for product in products:
        stock_set(product=product, quantity=7, actor=SYSTEM)
    recorder = Recorder()
    summary = push(top, recorder=recorder)

    # The item's call is refused whole; then one call per SKU finds the refused one.
    assert SandboxCall.objects.filter(method="taobao.skus.quantity.update", outcome="error").count() == 2
    assert len(recorder.of("taobao.skus.quantity.update")) == 3
    assert summary["pushed"] == 3 and summary["failed"] == 1
    assert [row(p).pushed_value for p in products] == ["7", "7", "3", "7"]
    assert row(products[2]).failed_at and "SKU" in row(products[2]).last_error
    assert row(products[2]).attempts == 1
    assert not MarketplaceSku.objects.filter(product=products[2]).exists()  # looked up again next time


def test_a_change_made_while_its_push_is_in_flight_is_pushed_again(top, catalog):
    product = catalog[0]
    stock_set(product=product, quantity=30, actor=SYSTEM)
    recorder = Recorder()
    # The marketplace has accepted 30 when the ERP sends 31, before the push records its acknowledgement.
    recorder.after["taobao.skus.quantity.update"] = lambda: stock_set(product=product, quantity=31, actor=SYSTEM)

    summary = push(top, recorder=recorder)

    assert [p["skuid_quantities"].split(":")[1] for p in recorder.of("taobao.skus.quantity.update")] == ["30", "31"]
    assert sku(product.erp_product_id).quantity == 31
    entry = row(product)
    assert entry.pushed_value == "31" and not entry.pending and entry.done_generation == entry.generation == 2
    assert summary["pushed"] == 2


def test_an_acknowledgement_never_settles_a_newer_change(top, catalog):
    product = catalog[0]
    stock_set(product=product, quantity=30, actor=SYSTEM)
    recorder = Recorder()

    def change_then_die():
        stock_set(product=product, quantity=44, actor=SYSTEM)
        raise WorkerKilled

    recorder.after["taobao.skus.quantity.update"] = change_then_die
    with pytest.raises(WorkerKilled):
        push(top, recorder=recorder)
    entry = row(product)
    assert entry.pending and entry.generation == 2 and entry.done_generation == 0


def test_a_worker_killed_after_the_marketplace_took_the_value_loses_nothing(top, catalog):
    product = catalog[0]
    stock_set(product=product, quantity=30, actor=SYSTEM)
    recorder = Recorder()

    def die():
        raise WorkerKilled

    recorder.after["taobao.skus.quantity.update"] = die
    with pytest.raises(WorkerKilled):
        push(top, recorder=recorder)
    assert sku(product.erp_product_id).quantity == 30  # reached the marketplace, never acknowledged here
    assert row(product).pending and row(product).pushed_value == ""
    assert SyncRun.objects.filter(connection=top, module="stock").latest("id").outcome == RunOutcome.FAILED
    stock_set(product=product, quantity=29, actor=SYSTEM)

    assert push(top)["pushed"] == 0  # not due yet: the failed attempt backs off
    summary = push(top, now=later(5))

    assert summary["pushed"] == 1
    assert sku(product.erp_product_id).quantity == 29 and row(product).pushed_value == "29"


def test_rows_claimed_by_a_worker_that_vanished_come_back_after_the_in_flight_time(top, catalog):
    product = catalog[0]
    stock_set(product=product, quantity=17, actor=SYSTEM)
    # Killed between the claim and the call: no release ran, the rows only carry the claim.
    assert len(outbox_claim(connection_id=top.pk, kind=OutboxKind.STOCK, now=timezone.now(), limit=10)) == 1

    assert push(top)["fetched"] == 0
    summary = push(top, now=timezone.now() + IN_FLIGHT + timedelta(seconds=1))

    assert summary["pushed"] == 1 and sku(product.erp_product_id).quantity == 17


def test_platform_failures_are_retried_within_the_run(top, shop, catalog):
    product = catalog[0]
    stock_set(product=product, quantity=12, actor=SYSTEM)
    faults(shop, fail_next=3)
    summary = push(top)
    assert summary["outcome"] == "ok" and summary["pushed"] == 1 and summary["failed_calls"] == 3
    assert sku(product.erp_product_id).quantity == 12


def test_a_marketplace_that_stays_down_leaves_the_row_due_later_then_it_goes_out(top, shop, catalog):
    product = catalog[0]
    stock_set(product=product, quantity=12, actor=SYSTEM)
    faults(shop, error_rate=1.0)
    summary = push(top)
    assert summary["outcome"] == "failed"
    entry = row(product)
    assert entry.pending and entry.attempts == 1 and entry.last_error and entry.due_at > timezone.now()
    assert entry.failed_at is None
    faults(shop, error_rate=0.0)
    assert push(top, now=later(2))["pushed"] == 1
    assert row(product).attempts == 0 and row(product).last_error == ""


def test_after_too_many_attempts_a_row_fails_permanently(top, shop, catalog):
    product = catalog[0]
    stock_set(product=product, quantity=12, actor=SYSTEM)
    Outbox.objects.filter(pk=row(product).pk).update(attempts=MAX_ATTEMPTS - 1)
    faults(shop, error_rate=1.0)
    push(top)
    entry = row(product)
    assert entry.failed_at and not entry.pending and entry.attempts == MAX_ATTEMPTS and entry.last_error
    # A new change tries again from a fresh count.
    faults(shop, error_rate=0.0)
    stock_set(product=product, quantity=13, actor=SYSTEM)
    assert row(product).attempts == 0 and row(product).pending
    push(top)
    assert row(product).failed_at is None and sku(product.erp_product_id).quantity == 13


def test_price_and_listing_changes_go_out_with_their_methods(top, catalog):
    product = catalog[0]
    product_update(product=product, default_price=Decimal("15.80"), actor=SYSTEM)
    listing_set(products=[catalog[1]], listed=False, actor=SYSTEM)
    recorder = Recorder()

    assert push(top, "prices", recorder)["pushed"] == 1
    assert push(top, "listing", recorder)["pushed"] == 1

    assert sku(product.erp_product_id).price == Decimal("15.80") and row(product, "price").pushed_value == "15.80"
    assert sku(catalog[1].erp_product_id).item.approve_status == "instock"
    assert row(catalog[1], "listing").pushed_value == "instock"
    assert [m for m, _ in recorder.calls if not m.endswith("custom.get")] == [
        "taobao.item.sku.price.update", "taobao.item.update.delisting"]
    listing_set(products=[Product.objects.get(pk=catalog[1].pk)], listed=True, actor=SYSTEM)
    push(top, "listing")
    assert sku(catalog[1].erp_product_id).item.approve_status == "onsale"
    assert Product.objects.get(pk=catalog[1].pk).listing_state == ListingState.LISTED


def test_a_stopped_connection_keeps_its_changes_and_pushes_them_once_resumed(top, shop, catalog):
    product = catalog[0]
    faults(shop, session_expired=True)
    stock_set(product=product, quantity=18, actor=SYSTEM)
    summary = push(top)
    assert summary["outcome"] == "stopped"
    top.refresh_from_db()
    assert top.stopped_reason
    entry = row(product)
    assert entry.pending and entry.attempts == 0 and entry.due_at <= timezone.now()
    stock_set(product=product, quantity=19, actor=SYSTEM)  # recorded while stopped
    faults(shop, session_expired=False)
    from sync.services import connection_set_enabled

    connection_set_enabled(connection=top, enabled=True, actor=SYSTEM)
    assert push(top)["pushed"] == 1 and sku(product.erp_product_id).quantity == 19


def test_the_sandbox_refuses_more_than_20_skus_in_one_quantity_call(top, shop, merchant_a):
    from sync.errors import Permanent

    codes = [f"WIDE-{n:02d}" for n in range(21)]
    marketplace.items_from_products(shop, [(code, code, Decimal("1.00"), 1) for code in codes], skus_per_item=21)
    item = sku("WIDE-00").item
    client = fast_client(top)
    with pytest.raises(Permanent, match="41"):
        client.call("taobao.skus.quantity.update", {
            "num_iid": item.num_iid, "outerid_quantities": ";".join(f"{code}:5" for code in codes)})
    answer = client.call("taobao.skus.quantity.update", {
        "num_iid": item.num_iid, "type": 2, "outerid_quantities": ";".join(f"{code}:-3" for code in codes[:20])})
    assert {s["quantity"] for s in answer["item"]["skus"]["sku"]} == {0, 1}  # a delta never goes below 0
    assert sku("WIDE-00").quantity == 0 and sku("WIDE-20").quantity == 1
