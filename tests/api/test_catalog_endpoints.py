"""Batched catalog writes through the signed Open API (SPEC A2, A3)."""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchant.models import (
    AuditEntry, AuditSource, Batch, ErpCustomerCode, HeldValue, IdempotencyRecord, ListingState, Product, SwitchKind,
)
from merchant.services.switches import sku_switch_set, switches_resume_expired
from tests.factories import (
    BaseProductFactory, CustomerFactory, ErpCustomerCodeFactory, OrderFactory, ProductFactory, valid_uscc,
)

pytestmark = pytest.mark.django_db


def test_stock_batch_answers_each_item_and_audits_the_api_as_the_source(erp, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=1)
    ProductFactory(merchant=merchant_a, erp_product_id="A2", stock=2)

    status, answer = erp.items("stock", {"erp_product_id": "A1", "stock": 10}, {"erp_product_id": "A2", "stock": 2},
                               {"erp_product_id": "NOPE", "stock": 3}, {"erp_product_id": "A2x", "stock": -4})

    assert status == 200
    assert answer["counts"] == {"ok": 2, "held": 0, "invalid": 2}
    assert [(r["status"], r.get("changed")) for r in answer["results"][:2]] == [("ok", True), ("ok", False)]
    assert answer["results"][2]["errors"] == [
        {"field": "items[2].erp_product_id", "message": "no product with this ERP product id"}]
    assert {e["field"] for e in answer["results"][3]["errors"]} >= {"items[3].erp_product_id"}
    assert Product.objects.get(erp_product_id="A1").stock == 10
    assert AuditEntry.objects.get(field="stock", entity_id=Product.objects.get(erp_product_id="A1").pk).source == \
        AuditSource.API


def test_products_upsert_follows_the_import_rules(erp, merchant_a):
    base = BaseProductFactory(barcode="6900000000001", approval_number="H1", spec="10mg", manufacturer="M")

    status, answer = erp.items("products", {
        "erp_product_id": "N1", "name": "Matched", "default_price": "9.90", "stock": 5, "barcode": "6900000000001",
        "approval_number": "H1", "spec": "10mg", "manufacturer": "M",
    }, {"erp_product_id": "N2", "name": "Unmatched", "default_price": 3, "stock": 0},
        {"erp_product_id": "N3", "name": "No price"}, {"erp_product_id": "N4", "name": "x", "default_price": 1.234})

    assert status == 200
    assert [r["status"] for r in answer["results"]] == ["ok", "ok", "invalid", "invalid"]
    assert answer["results"][2]["errors"][0]["field"] == "items[2].default_price"
    assert answer["results"][3]["errors"][0]["field"] == "items[3].default_price"
    matched, unmatched = Product.objects.get(erp_product_id="N1"), Product.objects.get(erp_product_id="N2")
    assert (matched.base_product, matched.listing_state) == (base, ListingState.LISTED)
    assert unmatched.listing_state == ListingState.PENDING_REVIEW
    assert not Product.objects.filter(erp_product_id__in=["N3", "N4"]).exists()


def test_prices_with_more_than_two_decimals_are_refused_by_field(erp, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", default_price=Decimal("5"))

    _status, answer = erp.items("prices", {"erp_product_id": "A1", "price_type": "default", "price": 1.005})

    assert answer["results"][0]["status"] == "invalid"
    assert answer["results"][0]["errors"][0]["field"] == "items[0].price"
    assert Product.objects.get(erp_product_id="A1").default_price == Decimal("5.00")


def test_batches_replace_a_products_batches_and_refuse_expiry_before_production(erp, merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1")
    other = ProductFactory(merchant=merchant_a, erp_product_id="A2", stock=7)
    Batch.objects.create(product=product, batch_no="OLD", production_date="2025-01-01",
                         expiry_date="2030-01-01", quantity=50)
    batch = {"production_date": "2026-01-01", "expiry_date": "2029-01-01"}

    _status, answer = erp.items(
        "batches", {"erp_product_id": "A1", "batch_no": "B1", "quantity": 4, **batch},
        {"erp_product_id": "A2", "batch_no": "X1", "quantity": 4, "production_date": "2026-01-01",
         "expiry_date": "2025-01-01"})

    assert [r["status"] for r in answer["results"]] == ["ok", "invalid"]
    assert answer["results"][1]["errors"][0]["field"] == "items[1].expiry_date"
    product.refresh_from_db()
    assert list(product.batches.values_list("batch_no", flat=True)) == ["B1"]
    assert (product.batch_managed, product.stock) == (True, 4)
    other.refresh_from_db()
    assert (other.batch_managed, other.stock) == (False, 7)


def test_listing_refuses_a_product_without_stock(erp, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=0, listing_state=ListingState.READY)
    ProductFactory(merchant=merchant_a, erp_product_id="A2", listing_state=ListingState.LISTED)

    _status, answer = erp.items("listing", {"erp_product_id": "A1", "listed": True},
                                {"erp_product_id": "A2", "listed": False})

    assert [r["status"] for r in answer["results"]] == ["invalid", "ok"]
    assert answer["results"][0]["errors"] == [{"field": "items[0].listed", "message": "no stock"}]
    assert Product.objects.get(erp_product_id="A2").listing_state == ListingState.DELISTED


def test_customers_are_matched_by_uscc_and_the_unmatched_reported(erp, merchant_a):
    customer = CustomerFactory(uscc=valid_uscc(1))
    unknown = valid_uscc(2)

    _status, answer = erp.items("customers", {"uscc": customer.uscc, "erp_customer_code": "C-1"},
                                {"uscc": unknown, "erp_customer_code": "C-2"})

    assert [r["status"] for r in answer["results"]] == ["ok", "invalid"]
    assert answer["unmatched"] == [unknown]
    assert ErpCustomerCode.objects.get(merchant=merchant_a, customer=customer).code == "C-1"


def test_another_merchants_customers_cannot_be_linked_or_explored_by_platform_customer_id(
        erp, erp_b, merchant_a, merchant_b, client_outsider):
    """Merchant B's key walking sequential ids through customers only merchant A deals with: each answer is the
    same refusal as for an id that does not exist, naming nothing B did not send, and B's pages stay empty."""
    only_a = [CustomerFactory(uscc=valid_uscc(10 + i), name=f"A Only {i}", province="Fujian", phone="0591-1")
              for i in range(3)]
    for customer in only_a[:2]:
        OrderFactory(merchant=merchant_a, customer=customer, items=0)
    ErpCustomerCodeFactory(merchant=merchant_a, customer=only_a[2], code="A-3")
    missing = max(c.pk for c in only_a) + 1000

    _status, answer = erp_b.items("customers", *({"platform_customer_id": pk, "erp_customer_code": f"B-{pk}"}
                                                 for pk in [c.pk for c in only_a] + [missing]))

    assert answer["counts"] == {"ok": 0, "held": 0, "invalid": 4}
    for result, pk in zip(answer["results"], [c.pk for c in only_a] + [missing]):
        assert result["key"] == str(pk)
        assert result["errors"] == [{"field": f"items[{result['index']}].platform_customer_id",
                                     "message": "no customer with this id among your customers"}]
    text = json.dumps(answer)
    assert not any(c.uscc in text or c.name in text for c in only_a)
    assert not ErpCustomerCode.objects.filter(merchant=merchant_b).exists()
    page = client_outsider.get("/customers/").content.decode()
    assert not any(c.name in page or c.uscc in page for c in only_a)
    assert client_outsider.get(f"/customers/{only_a[0].pk}/").status_code == 404


def test_a_customer_is_linked_by_id_once_the_merchant_deals_with_it_and_by_uscc_it_knows(erp_b, merchant_b):
    ordered, coded, by_uscc = (CustomerFactory(uscc=valid_uscc(20 + i)) for i in range(3))
    OrderFactory(merchant=merchant_b, customer=ordered, items=0)
    ErpCustomerCodeFactory(merchant=merchant_b, customer=coded, code="OLD")

    _status, answer = erp_b.items(
        "customers", {"platform_customer_id": ordered.pk, "erp_customer_code": "B-1"},
        {"platform_customer_id": coded.pk, "erp_customer_code": "B-2"},
        {"uscc": by_uscc.uscc.lower(), "erp_customer_code": "B-3"})

    assert [(r["status"], r["key"]) for r in answer["results"]] == [
        ("ok", str(ordered.pk)), ("ok", str(coded.pk)), ("ok", by_uscc.uscc)]
    assert ordered.uscc not in json.dumps(answer) and coded.uscc not in json.dumps(answer)
    _status, answer = erp_b.items("customers", {"uscc": by_uscc.uscc, "platform_customer_id": by_uscc.pk,
                                                "erp_customer_code": "B-3"},
                                  {"uscc": valid_uscc(30), "platform_customer_id": ordered.pk, "erp_customer_code": "X"})
    assert answer["results"][0]["status"] == "ok"
    assert answer["results"][1]["errors"][0]["message"] == "no platform customer with this USCC"
    assert dict(ErpCustomerCode.objects.filter(merchant=merchant_b).values_list("customer_id", "code")) == {
        ordered.pk: "B-1", coded.pk: "B-2", by_uscc.pk: "B-3"}


def test_paused_sku_answers_held_and_the_value_applies_when_the_pause_ends(erp, merchant_a, owner_actor):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=100)
    sku_switch_set(products=[product], kind=SwitchKind.STOCK, enabled=False, actor=owner_actor,
                   until=timezone.now() + timedelta(hours=4))

    _status, answer = erp.items("stock", {"erp_product_id": "A1", "stock": 20})

    assert answer["results"][0]["status"] == "held" and answer["results"][0]["held"] == ["stock"]
    assert answer["results"][0]["reason"]
    product.refresh_from_db()
    assert product.stock == 100
    assert HeldValue.objects.get(product=product).source == AuditSource.API

    switches_resume_expired(now=timezone.now() + timedelta(hours=5))
    product.refresh_from_db()
    assert product.stock == 20


def test_another_merchants_product_is_unknown_and_untouched(erp, merchant_b):
    theirs = ProductFactory(merchant=merchant_b, erp_product_id="B1", stock=5)

    _status, answer = erp.items("stock", {"erp_product_id": "B1", "stock": 50})

    assert answer["results"][0]["errors"][0]["message"] == "no product with this ERP product id"
    theirs.refresh_from_db()
    assert theirs.stock == 5


@pytest.mark.parametrize("raw, status, code", [
    (b"{not json", 400, "malformed_json"),
    (b"[]", 400, "malformed_json"),
    (b'{"items": {}}', 400, "items_required"),
    (b'{"items": []}', 400, "items_required"),
    (b'{"items": [], "extra": 1}', 400, "unknown_field"),
    (b'{"items": [{"erp_product_id": "A1", "stock": NaN}]}', 400, "malformed_json"),
])
def test_a_request_refused_as_a_whole_writes_nothing(erp, merchant_a, raw, status, code):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)

    response = erp.post("stock", raw=raw)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert Product.objects.get(erp_product_id="A1").stock == 5


def test_more_than_500_items_are_refused(erp, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)
    status, answer = erp.items("stock", *[{"erp_product_id": "A1", "stock": n} for n in range(501)])
    assert (status, answer["error"]["code"]) == (413, "too_many_items")
    assert Product.objects.get(erp_product_id="A1").stock == 5


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(erp, settings):
    settings.API_MAX_BODY_BYTES = 100
    status, answer = erp.items("stock", *[{"erp_product_id": f"A{n}", "stock": n} for n in range(20)])
    assert (status, answer["error"]["code"]) == (413, "body_too_large")


def test_the_same_idempotency_key_gives_the_same_answer_and_no_second_effect(erp, merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)
    body = {"items": [{"erp_product_id": "A1", "stock": 9}]}

    first = erp.post("stock", body, headers={"Idempotency-Key": "k-1"})
    Product.objects.filter(pk=product.pk).update(stock=1)  # a manual change in between
    again = erp.post("stock", body, headers={"Idempotency-Key": "k-1"})

    assert again.status_code == first.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    product.refresh_from_db()
    assert product.stock == 1
    other = erp.post("stock", {"items": [{"erp_product_id": "A1", "stock": 3}]}, headers={"Idempotency-Key": "k-1"})
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")


def test_a_refused_request_does_not_use_up_its_idempotency_key(erp, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)

    refused = erp.post("stock", raw=b"{", headers={"Idempotency-Key": "k-2"})
    fixed = erp.post("stock", {"items": [{"erp_product_id": "A1", "stock": 9}]}, headers={"Idempotency-Key": "k-2"})

    assert (refused.status_code, fixed.status_code) == (400, 200)
    assert IdempotencyRecord.objects.get(key="k-2").status == 200


def test_idempotency_keys_are_per_merchant(erp, erp_b, merchant_a, merchant_b):
    ProductFactory(merchant=merchant_a, erp_product_id="A1", stock=5)
    ProductFactory(merchant=merchant_b, erp_product_id="A1", stock=5)
    body = {"items": [{"erp_product_id": "A1", "stock": 9}]}

    erp.post("stock", body, headers={"Idempotency-Key": "same"})
    erp_b.post("stock", body, headers={"Idempotency-Key": "same"})

    assert list(Product.objects.values_list("stock", flat=True)) == [9, 9]
