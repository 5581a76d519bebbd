"""The ERP pull (SPEC S9) against the sandbox bridge: feeds applied in order under the sync switches (M11),
cursors saved with the page they follow, refused items recorded and passed over."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchant.models import (
    AuditEntry, AuditSource, ErpCustomerCode, GroupPrice, HeldItem, HeldValue, Module, Product, SwitchKind,
    UnmatchedErpCustomer,
)
from merchant.services.switches import module_switch_set, sku_switch_set
from sync.erp import pull as erp_pull_module
from sync.erp.models import ErpCursor
from sync.models import Checkpoint, RunOutcome, SyncModule, SyncRun
from sync.erp.sandbox.erp import (
    erp_batches_change, erp_change, erp_customer_change, erp_log_truncate, erp_price_change, erp_product_change,
    erp_stock_change,
)
from sync.erp.sandbox.models import SandboxErpCall
from tests.factories import CustomerFactory, ProductFactory, RegionGroupFactory

from .conftest import faults, pull

pytestmark = pytest.mark.usefixtures("english")


def cursor(connection, kind) -> str:
    return ErpCursor.objects.filter(connection=connection, kind=kind).values_list("cursor", flat=True).first()


def test_a_new_product_and_its_stock_batches_and_prices_arrive_in_one_run(connection, bridge, merchant_a):
    RegionGroupFactory(code="south")
    # Logged before the product: the pull still applies products first.
    erp_stock_change(bridge, "NEW-1", 25)
    erp_price_change(bridge, "NEW-1", "8.80", price_type="region_group", group_code="south")
    erp_product_change(bridge, "NEW-1", name="Vitamin C", default_price="9.50", stock=5)
    erp_product_change(bridge, "NEW-2", name="Zinc", default_price="3.00")
    erp_batches_change(bridge, "NEW-2", [
        {"batch_no": "B1", "production_date": "2026-01-01", "expiry_date": "2029-01-01", "quantity": 7}])

    summary = pull(connection)

    assert (summary["outcome"], summary["applied"], summary["held"], summary["invalid"]) == ("ok", 5, 0, 0)
    products = {p.erp_product_id: p for p in Product.objects.filter(merchant=merchant_a)}
    assert (products["NEW-1"].name, products["NEW-1"].stock, products["NEW-1"].default_price) == (
        "Vitamin C", 25, Decimal("9.50"))
    assert GroupPrice.objects.get(product=products["NEW-1"]).price == Decimal("8.80")
    assert products["NEW-2"].stock == 7 and products["NEW-2"].batch_managed
    assert AuditEntry.objects.filter(entity="product", source=AuditSource.ERP).exists()
    assert Checkpoint.objects.get(connection=connection, module=SyncModule.ERP_PULL).position is not None


def test_the_cursor_moves_with_each_page_and_the_next_run_reads_only_what_is_new(connection, bridge, merchant_a):
    for n in range(5):
        ProductFactory(merchant=merchant_a, erp_product_id=f"A{n}", stock=0)
        erp_stock_change(bridge, f"A{n}", n + 10)

    first = pull(connection, limit=2)
    erp_stock_change(bridge, "A0", 99)
    second = pull(connection, limit=2)

    assert (first["kinds"]["stock"]["pages"], first["fetched"]) == (3, 5)
    assert (second["kinds"]["stock"]["pages"], second["fetched"], second["updated"]) == (1, 1, 1)
    assert Product.objects.get(erp_product_id="A0").stock == 99
    assert cursor(connection, "stock") == str(bridge.changes.order_by("-id").first().pk)


def test_a_crash_before_the_cursor_is_saved_rolls_the_page_back_and_the_next_run_reads_it_again(
        connection, bridge, merchant_a, monkeypatch):
    for n in range(4):
        ProductFactory(merchant=merchant_a, erp_product_id=f"A{n}", stock=0)
        erp_stock_change(bridge, f"A{n}", 50 + n)
    save = erp_pull_module._cursor_save
    saved = []

    def dies_on_the_second_page(run, kind, value):
        if kind == "stock" and saved:
            raise RuntimeError("worker killed")
        if kind == "stock":
            saved.append(value)
        save(run, kind, value)

    monkeypatch.setattr(erp_pull_module, "_cursor_save", dies_on_the_second_page)

    with pytest.raises(RuntimeError):
        pull(connection, limit=2)

    stocks = dict(Product.objects.filter(merchant=merchant_a).values_list("erp_product_id", "stock"))
    assert stocks == {"A0": 50, "A1": 51, "A2": 0, "A3": 0}  # the second page left no trace
    assert cursor(connection, "stock") == saved[0]
    assert SyncRun.objects.get(connection=connection).outcome == RunOutcome.FAILED

    monkeypatch.setattr(erp_pull_module, "_cursor_save", save)
    summary = pull(connection, limit=2)

    assert (summary["outcome"], summary["fetched"], summary["updated"]) == ("ok", 2, 2)
    stocks = dict(Product.objects.filter(merchant=merchant_a).values_list("erp_product_id", "stock"))
    assert stocks == {"A0": 50, "A1": 51, "A2": 52, "A3": 53}


def test_reading_a_feed_again_from_the_start_changes_nothing(connection, bridge, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=0)
    ProductFactory(merchant=merchant_a, erp_product_id="A2", stock=0)
    erp_stock_change(bridge, "A1", 12)
    erp_product_change(bridge, "A1", name="Renamed")
    erp_batches_change(bridge, "A2", [
        {"batch_no": "B1", "production_date": "2026-01-01", "expiry_date": "2029-01-01", "quantity": 3}])
    first = pull(connection)
    audited = AuditEntry.objects.count()

    ErpCursor.objects.filter(connection=connection).update(cursor="")
    again = pull(connection)

    assert first["updated"] == 3
    assert (again["fetched"], again["updated"], again["unchanged"]) == (3, 0, 3)
    assert AuditEntry.objects.count() == audited
    one, two = Product.objects.get(erp_product_id="A1"), Product.objects.get(erp_product_id="A2")
    assert (one.name, one.stock, two.stock, two.batches.count()) == ("Renamed", 12, 3, 1)


def test_a_paused_sku_holds_the_erp_stock_and_the_latest_applies_when_it_resumes(
        connection, bridge, merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor)
    erp_stock_change(bridge, "A1", 40)
    erp_stock_change(bridge, "A1", 30)  # later in the same page: the one that counts

    summary = pull(connection)

    assert (summary["held"], summary["kinds"]["stock"]["superseded"]) == (1, 1)
    product.refresh_from_db()
    assert product.stock == 5
    assert HeldValue.objects.get(product=product, field="stock").value == 30
    assert cursor(connection, "stock")  # held is not lost: the feed moves on

    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.stock == 30


def test_a_module_turned_off_holds_whole_items_until_it_is_on_again(connection, bridge, merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", default_price=Decimal("10.00"))
    module_switch_set(merchant=merchant_a, module=Module.PRICES, enabled=False, actor=owner_actor,
                      until=timezone.now() + timedelta(hours=1))
    erp_price_change(bridge, "A1", "11.00")

    summary = pull(connection)

    assert summary["kinds"]["prices"]["held"] == 1
    product.refresh_from_db()
    assert product.default_price == Decimal("10.00")
    assert HeldItem.objects.get(merchant=merchant_a, kind="prices").source == AuditSource.ERP

    module_switch_set(merchant=merchant_a, module=Module.PRICES, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.default_price == Decimal("11.00")


def test_refused_items_are_recorded_with_their_key_and_field_and_do_not_hold_the_feed(connection, bridge, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=1)
    erp_change(bridge, "stock", {"erp_product_id": "A1", "stock": "many"})
    erp_change(bridge, "stock", {"erp_product_id": "GHOST", "stock": 3})
    erp_change(bridge, "stock", {"erp_product_id": "A1", "stock": 8, "colour": "red"})
    erp_stock_change(bridge, "A1", 9)

    summary = pull(connection)

    assert (summary["outcome"], summary["applied"], summary["invalid"]) == ("ok", 1, 3)
    errors = SyncRun.objects.get(connection=connection).errors
    assert "stock A1: stock: expected a whole number" in errors
    assert "stock GHOST: erp_product_id: no product with this ERP product id" in errors
    assert "stock A1: colour: unknown field" in errors
    assert Product.objects.get(erp_product_id="A1").stock == 9
    assert pull(connection)["fetched"] == 0  # not read again


def test_stock_for_a_product_the_erp_created_after_the_products_pass_waits_for_it(connection, bridge, merchant_a):
    erp_stock_change(bridge, "LATE", 6)
    erp_product_change(bridge, "LATE", name="Late product", default_price="5.00")

    # As if the products pass had ended just before the product was created: only the stock feed is read.
    summary = pull(connection, kinds=["stock"])

    assert summary["invalid"] == 0
    assert Product.objects.get(merchant=merchant_a, erp_product_id="LATE").stock == 6


def test_prices_batches_and_stock_wait_while_the_products_feed_has_more(connection, bridge, merchant_a, monkeypatch):
    monkeypatch.setattr(erp_pull_module, "MAX_PAGES", 1)
    for n in range(3):
        erp_product_change(bridge, f"P{n}", name=f"Product {n}", default_price="1.00")
    erp_stock_change(bridge, "P2", 4)

    first = pull(connection, limit=2)
    second = pull(connection, limit=2)

    assert first["kinds"]["stock"]["skipped"] and first["kinds"]["stock"]["fetched"] == 0
    assert second["kinds"]["stock"]["fetched"] == 1
    assert Product.objects.get(erp_product_id="P2").stock == 4


def test_an_expired_cursor_reads_the_feed_again_from_its_start(connection, bridge, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=1)
    erp_stock_change(bridge, "A1", 2)
    pull(connection)
    erp_stock_change(bridge, "A1", 4)
    erp_log_truncate(bridge)  # the bridge forgot the change to 4 before we read it
    erp_stock_change(bridge, "A1", 3)

    summary = pull(connection)

    assert summary["outcome"] == "ok"
    assert any("cursor_expired" in error for error in summary["errors"])
    assert Product.objects.get(erp_product_id="A1").stock == 3


def test_a_feed_the_bridge_does_not_serve_is_skipped(connection, bridge):
    faults(bridge, unsupported_kinds="batches,customers")

    summary = pull(connection)

    assert summary["outcome"] == "ok"
    assert summary["kinds"]["batches"]["skipped"] == "unsupported"
    assert Checkpoint.objects.get(connection=connection, module=SyncModule.ERP_PULL).position is not None


def test_customer_codes_are_set_by_uscc_and_unmatched_usccs_listed(connection, bridge, merchant_a):
    customer = CustomerFactory()
    erp_customer_change(bridge, "K-1", uscc=customer.uscc, customer_name=customer.name)
    erp_customer_change(bridge, "K-2", uscc="91350100M000100Y43", customer_name="Not here yet")

    summary = pull(connection)

    assert (summary["applied"], summary["invalid"]) == (1, 1)
    assert ErpCustomerCode.objects.get(merchant=merchant_a, customer=customer).code == "K-1"
    unmatched = UnmatchedErpCustomer.objects.get(merchant=merchant_a)
    assert (unmatched.erp_customer_code, unmatched.source) == ("K-2", AuditSource.ERP)


def test_a_429_is_honoured_and_the_pull_completes(connection, bridge, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=1)
    erp_stock_change(bridge, "A1", 2)
    faults(bridge, rate_limit_next_seconds=1)

    summary = pull(connection)

    assert summary["outcome"] == "ok"
    assert SandboxErpCall.objects.filter(erp=bridge, status=429).count() == 1
    assert Product.objects.get(erp_product_id="A1").stock == 2


def test_server_errors_are_retried_and_the_pull_completes(connection, bridge, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=1)
    erp_stock_change(bridge, "A1", 2)
    faults(bridge, fail_next=3, error_rate=0.0)

    summary = pull(connection)

    assert (summary["outcome"], summary["failed_calls"]) == ("ok", 3)
    assert Product.objects.get(erp_product_id="A1").stock == 2


def test_a_401_stops_the_connection_with_the_reason(connection, bridge):
    faults(bridge, unauthorized=True)

    summary = pull(connection)

    connection.refresh_from_db()
    assert summary["outcome"] == RunOutcome.STOPPED
    assert "key_revoked" in connection.stopped_reason
    assert "ERP bridge" in connection.stopped_reason and "marketplace" not in connection.stopped_reason
    assert not connection.is_active
    assert SandboxErpCall.objects.filter(erp=bridge).count() == 1  # no retries, no other feeds
