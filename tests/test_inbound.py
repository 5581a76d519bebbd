"""Values from automatic channels under the sync switches (SPEC M11, A2): applied, held, or refused."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchant.models import AuditSource, GroupPrice, HeldItem, HeldValue, ListingState, Module, Product, SwitchKind
from merchant.permissions import Actor
from merchant.services.inbound import inbound_apply
from merchant.services.inbound_fields import item_from_json
from merchant.services.switches import module_switch_set, sku_switch_set, switches_resume_expired

from .factories import BaseProductFactory, BatchFactory, ProductFactory, RegionGroupFactory

pytestmark = pytest.mark.usefixtures("english")
ERP = Actor.system(source=AuditSource.ERP)


def push(merchant, kind, *raw):
    items = [item_from_json(kind, index, value) for index, value in enumerate(raw)]
    return inbound_apply(merchant=merchant, kind=kind, items=items, actor=ERP)


def test_stock_applies_when_sync_is_on(merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)

    [result] = push(merchant_a, "stock", {"erp_product_id": "A1", "stock": 40})

    assert (result.status, result.changed) == ("ok", True)
    product.refresh_from_db()
    assert product.stock == 40


def test_paused_sku_holds_the_erp_stock_and_the_latest_applies_when_the_pause_ends(merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor,
                   until=timezone.now() + timedelta(hours=1))

    first = push(merchant_a, "stock", {"erp_product_id": "A1", "stock": 40})
    second = push(merchant_a, "stock", {"erp_product_id": "A1", "stock": 30})

    assert first[0].status == second[0].status == "held"
    assert "Auto stock sync of this SKU is off until" in second[0].reason
    product.refresh_from_db()
    assert product.stock == 5
    assert HeldValue.objects.get(product=product, field="stock").value == 30

    switches_resume_expired(now=timezone.now() + timedelta(hours=2))

    product.refresh_from_db()
    assert product.stock == 30
    assert not HeldValue.objects.filter(product=product).exists()


def test_products_upsert_applies_the_name_and_holds_only_the_paused_price(merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", name="old", default_price=Decimal("10"))
    sku_switch_set(products=[product], kind=SwitchKind.PRICE, enabled=False, actor=owner_actor)

    [result] = push(merchant_a, "products", {"erp_product_id": "A1", "name": "new", "default_price": "12.50"})

    assert (result.status, result.held) == ("held", ["default_price"])
    product.refresh_from_db()
    assert (product.name, product.default_price) == ("new", Decimal("10.00"))
    assert HeldValue.objects.get(product=product, field="default_price").value == "12.50"


def test_held_group_price_applies_when_the_price_switch_is_turned_on(merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1")
    group = RegionGroupFactory(code="south")
    sku_switch_set(products=[product], kind=SwitchKind.PRICE, enabled=False, actor=owner_actor)

    [result] = push(merchant_a, "prices", {"erp_product_id": "A1", "price_type": "region_group",
                                           "group_code": "south", "price": "8.80"})
    assert result.status == "held"
    assert not GroupPrice.objects.exists()

    sku_switch_set(products=[product], kind=SwitchKind.PRICE, enabled=True, actor=owner_actor)

    assert GroupPrice.objects.get(product=product, region_group=group).price == Decimal("8.80")


def test_module_off_holds_whole_records_and_turning_it_on_applies_the_latest(merchant_a, owner_actor):
    base = BaseProductFactory()
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=3, base_product=base,
                             listing_state=ListingState.LISTED)
    module_switch_set(merchant=merchant_a, module=Module.LISTING, enabled=False, actor=owner_actor)

    push(merchant_a, "listing", {"erp_product_id": "A1", "listed": False})
    [result] = push(merchant_a, "listing", {"erp_product_id": "A1", "listed": True})

    assert result.status == "held"
    assert HeldItem.objects.get(merchant=merchant_a, kind="listing").values == {"erp_product_id": "A1",
                                                                                 "listed": True}
    push(merchant_a, "listing", {"erp_product_id": "A1", "listed": False})
    product.refresh_from_db()
    assert product.listing_state == ListingState.LISTED

    module_switch_set(merchant=merchant_a, module=Module.LISTING, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert product.listing_state == ListingState.DELISTED
    assert not HeldItem.objects.exists()


def test_held_batches_are_kept_per_product_and_replace_together(merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1")
    BatchFactory(product=product, batch_no="OLD", quantity=9)
    module_switch_set(merchant=merchant_a, module=Module.BATCHES, enabled=False, actor=owner_actor)
    batch = {"erp_product_id": "A1", "production_date": "2026-01-01", "expiry_date": "2029-01-01"}

    results = push(merchant_a, "batches", {**batch, "batch_no": "B1", "quantity": 4},
                   {**batch, "batch_no": "B2", "quantity": 6})

    assert [r.status for r in results] == ["held", "held"]
    module_switch_set(merchant=merchant_a, module=Module.BATCHES, enabled=True, actor=owner_actor)

    product.refresh_from_db()
    assert sorted(product.batches.values_list("batch_no", flat=True)) == ["B1", "B2"]
    assert product.stock == 10


def test_invalid_items_are_answered_per_field_and_change_nothing(merchant_a, merchant_b):
    for key in ("A1", "A2", "A3"):
        ProductFactory(merchant=merchant_a, erp_product_id=key, stock=5)
    ProductFactory(merchant=merchant_b, erp_product_id="B1", stock=5)

    results = push(merchant_a, "stock", {"erp_product_id": "A1", "stock": -1}, {"erp_product_id": "B1", "stock": 1},
                   {"erp_product_id": "A2", "stock": "7"}, {"erp_product_id": "A3", "stock": 8})

    assert [r.status for r in results] == ["invalid", "invalid", "invalid", "ok"]
    assert "stock" in results[0].errors
    assert results[1].errors == {"erp_product_id": "no product with this ERP product id"}
    assert results[2].errors == {"stock": "expected a whole number"}
    assert Product.objects.get(merchant=merchant_b).stock == 5
    assert dict(Product.objects.filter(merchant=merchant_a).values_list("erp_product_id", "stock")) == {
        "A1": 5, "A2": 5, "A3": 8}


def test_a_record_named_twice_in_one_request_refuses_the_later_item(merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)

    results = push(merchant_a, "stock", {"erp_product_id": "A1", "stock": 6}, {"erp_product_id": "A1", "stock": 7})

    assert [r.status for r in results] == ["ok", "invalid"]
    assert results[1].errors == {"erp_product_id": "the same record is also item 0"}


def test_a_held_group_price_with_a_long_group_code_is_stored(merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1")
    RegionGroupFactory(code="south-china-wholesale-tier-2")
    sku_switch_set(products=[product], kind=SwitchKind.PRICE, enabled=False, actor=owner_actor)

    [result] = push(merchant_a, "prices", {"erp_product_id": "A1", "price_type": "region_group",
                                           "group_code": "south-china-wholesale-tier-2", "price": "8.80"})

    assert result.status == "held"
    assert HeldValue.objects.get(product=product).field == "price[region_group:south-china-wholesale-tier-2]"


@pytest.mark.parametrize("policy, kept", [("all", ["B1", "B2", "B3"]), ("latest", ["B2"]), ("largest", ["B3"])])
def test_the_merchants_batch_policy_decides_which_pushed_batches_are_kept(merchant_a, policy, kept):
    merchant_a.batch_sync_policy = policy
    merchant_a.save()
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1")
    BatchFactory(product=product, batch_no="OLD", quantity=9)
    batch = {"erp_product_id": "A1", "expiry_date": "2030-01-01"}

    results = push(merchant_a, "batches",
                   {**batch, "batch_no": "B1", "production_date": "2026-01-01", "quantity": 5},
                   {**batch, "batch_no": "B2", "production_date": "2026-03-01", "quantity": 2},
                   {**batch, "batch_no": "B3", "production_date": "2026-02-01", "quantity": 8})

    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert sorted(product.batches.values_list("batch_no", flat=True)) == kept
    left_out = [r for r in results if r.note]
    assert len(left_out) == 3 - len(kept)
    assert all("batch policy" in r.note for r in left_out)
    product.refresh_from_db()
    assert product.stock == sum({"B1": 5, "B2": 2, "B3": 8}[b] for b in kept)


def test_the_latest_batch_policy_skips_an_expired_latest_batch(merchant_a):
    merchant_a.batch_sync_policy = "latest"
    merchant_a.save()
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1")

    push(merchant_a, "batches",
         {"erp_product_id": "A1", "batch_no": "OK", "production_date": "2025-01-01", "expiry_date": "2030-01-01",
          "quantity": 3},
         {"erp_product_id": "A1", "batch_no": "EMPTY", "production_date": "2026-01-01", "expiry_date": "2030-01-01",
          "quantity": 0})

    assert list(product.batches.values_list("batch_no", flat=True)) == ["OK"]
