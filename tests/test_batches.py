"""Batches as a pharmacy keeps them (issue 13, deliverable 4): edited in place, kept when shipments name them,
never on sale once expired, their days left shown near expiry, and picked first-expiry-first-out when shipping."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from merchant.models import AuditEntry, Batch, ListingState, ShipmentItem

from .factories import BatchFactory, OrderFactory, ProductFactory
from .helpers import messages_of

pytestmark = pytest.mark.usefixtures("english_pages")


@pytest.fixture
def batch_product(merchant_a):
    return ProductFactory(merchant=merchant_a, batch_managed=True, stock=0, listing_state=ListingState.READY)


def days(n):
    return (timezone.localdate() + timedelta(days=n)).isoformat()


def batch_post(batch, **changes):
    data = {"batch_no": batch.batch_no, "production_date": batch.production_date.isoformat(),
            "expiry_date": batch.expiry_date.isoformat(), "quantity": str(batch.quantity)}
    data.update(changes)
    return data


def test_editing_a_batch_keeping_its_number_saves_it_and_is_audited(editor_client, batch_product):
    lot = BatchFactory(product=batch_product, batch_no="LOT-1", quantity=30)
    page = editor_client.get(batch_product.get_absolute_url(), {"batch": lot.pk})
    assert page.context["batch_form"].initial["batch_no"] == "LOT-1"  # the form opens on the batch
    assert reverse("batch_edit", args=[batch_product.pk, lot.pk]) in page.content.decode()
    response = editor_client.post(reverse("batch_edit", args=[batch_product.pk, lot.pk]),
                                  batch_post(lot, quantity="8", expiry_date=days(200)))
    assert response.status_code == 302
    lot.refresh_from_db()
    assert (lot.batch_no, lot.quantity, lot.expiry_date.isoformat()) == ("LOT-1", 8, days(200))
    assert Batch.objects.filter(product=batch_product).count() == 1
    audited = set(AuditEntry.objects.filter(entity="product", entity_id=batch_product.pk).values_list("field", "new_value"))
    assert ("batch[LOT-1].quantity", "8") in audited


def test_a_batch_that_shipments_name_is_kept_and_its_number_cannot_change(client_operator, merchant_a, batch_product,
                                                                           carrier):
    lot = BatchFactory(product=batch_product, batch_no="LOT-S", quantity=5)
    order = OrderFactory(merchant=merchant_a, items=[{"product": batch_product, "quantity": 1}])
    item = order.items.get()
    shipment = order.shipments.create(carrier=carrier, tracking_no="SF1", shipped_at=timezone.now())
    ShipmentItem.objects.create(shipment=shipment, order_item=item, quantity=1, batch_no="LOT-S")
    response = client_operator.post(reverse("batch_delete", args=[batch_product.pk, lot.pk]), follow=True)
    assert Batch.objects.filter(pk=lot.pk).exists()
    assert any("cannot be removed: shipments name it" in m for m in messages_of(response))
    renamed = client_operator.post(reverse("batch_edit", args=[batch_product.pk, lot.pk]),
                                   batch_post(lot, batch_no="LOT-T"))
    assert renamed.status_code == 400
    assert "cannot change" in str(renamed.context["batch_form"].errors["batch_no"])
    lot.refresh_from_db()
    assert lot.batch_no == "LOT-S"
    # A batch no shipment names is removed, and the removal audited.
    other = BatchFactory(product=batch_product, batch_no="LOT-FREE")
    client_operator.post(reverse("batch_delete", args=[batch_product.pk, other.pk]))
    assert not Batch.objects.filter(pk=other.pk).exists()
    assert AuditEntry.objects.filter(entity="product", entity_id=batch_product.pk, field="batch[LOT-FREE]",
                                     new_value="").exists()


def test_an_expired_batch_is_refused_as_on_sale_and_shown_expired(client_operator, batch_product):
    add = reverse("batch_add", args=[batch_product.pk])
    response = client_operator.post(add, {"batch_no": "OLD", "production_date": days(-800),
                                          "expiry_date": days(-1), "quantity": "20"})
    assert response.status_code == 400
    assert "cannot be on sale" in str(response.context["batch_form"].errors["expiry_date"])
    assert not Batch.objects.filter(product=batch_product).exists()
    # Expiring today is already expired (no longer on sale that day).
    assert client_operator.post(add, {"batch_no": "TODAY", "production_date": days(-800), "expiry_date": days(0),
                                      "quantity": "20"}).status_code == 400
    assert client_operator.post(add, {"batch_no": "OLD", "production_date": days(-800), "expiry_date": days(-1),
                                      "quantity": "0"}).status_code == 302
    page = client_operator.get(batch_product.get_absolute_url())
    assert page.context["batches"][0][1].state == "expired"
    assert 'class="badge expired"' in page.content.decode()


def test_batches_near_expiry_show_the_days_left_in_chinese(client_operator, batch_product):
    BatchFactory(product=batch_product, batch_no="NEAR", expiry_date=timezone.localdate() + timedelta(days=23))
    BatchFactory(product=batch_product, batch_no="FAR", expiry_date=timezone.localdate() + timedelta(days=400))
    with translation.override("zh-hans"):
        html = client_operator.get(batch_product.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "还剩 23 天" in html
    assert html.count('class="badge near"') == 1  # a batch a year away is not marked


def test_the_shipment_form_picks_usable_batches_first_expiry_first_out(client_operator, merchant_a, batch_product,
                                                                        carrier):
    today = timezone.localdate()
    BatchFactory(product=batch_product, batch_no="LATE", expiry_date=today + timedelta(days=300), quantity=5)
    early = BatchFactory(product=batch_product, batch_no="EARLY", expiry_date=today + timedelta(days=40), quantity=5)
    expired = BatchFactory(product=batch_product, batch_no="GONE", expiry_date=today - timedelta(days=2), quantity=5)
    BatchFactory(product=batch_product, batch_no="EMPTY", expiry_date=today + timedelta(days=20), quantity=0)
    order = OrderFactory(merchant=merchant_a, items=[{"product": batch_product, "quantity": 3}])
    item = order.items.get()
    page = client_operator.get(order.get_absolute_url())
    form = page.context["line_forms"][0][2]
    field = form.fields["batch"]
    assert [label.split(" · ")[0] for _pk, label in field.choices] == ["EARLY", "LATE"]
    assert field.initial == str(early.pk)
    assert "batch_no" not in form.fields  # no typed numbers for a product with batches
    assert f'<option value="{early.pk}" selected>' in page.content.decode()
    # An expired batch cannot be posted either.
    refused = client_operator.post(reverse("order_shipment", args=[order.pk]), {
        "s-carrier": carrier.code, "s-tracking_no": "SF-9", f"i{item.pk}-quantity": "2",
        f"i{item.pk}-batch": str(expired.pk)})
    assert refused.status_code == 400
    assert not ShipmentItem.objects.exists()
    # More than the batch holds is refused: the rest ships from another batch.
    assert client_operator.post(reverse("order_shipment", args=[order.pk]), {
        "s-carrier": carrier.code, "s-tracking_no": "SF-9", f"i{item.pk}-quantity": "3",
        f"i{item.pk}-batch": str(BatchFactory(product=batch_product, batch_no="SMALL", quantity=1).pk)}).status_code == 400
    assert not ShipmentItem.objects.exists()
    response = client_operator.post(reverse("order_shipment", args=[order.pk]), {
        "s-carrier": carrier.code, "s-tracking_no": "SF-9", f"i{item.pk}-quantity": "2",
        f"i{item.pk}-batch": str(early.pk)})
    assert response.status_code == 302
    shipped = ShipmentItem.objects.get()
    assert (shipped.batch_no, shipped.production_date, shipped.expiry_date) == (
        "EARLY", early.production_date, early.expiry_date)
