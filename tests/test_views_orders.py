"""Order operations by hand (SPEC M10): status change, logistics, partial shipments, ERP status.

Happy paths for owner and operator, 403 for the viewer, bad input answered 400 at the field with nothing changed.
"""
from datetime import date

import pytest
from django.urls import reverse

from merchant.models import AuditEntry, Order, OrderItem, OrderStatus, Shipment, ShipmentItem, TrackingEntry

from .factories import CarrierFactory, OrderFactory
from .helpers import messages_of

pytestmark = pytest.mark.usefixtures("english_pages")


def snapshot(order) -> dict:
    """Everything an order form could change, to assert that a refused request changed nothing."""
    fresh = Order.objects.get(pk=order.pk)
    return {
        "fields": {f.attname: getattr(fresh, f.attname) for f in Order._meta.concrete_fields},
        "items": list(OrderItem.objects.filter(order=order).order_by("pk").values_list("pk", "batch_no")),
        "shipments": Shipment.objects.filter(order=order).count(),
        "shipment_items": ShipmentItem.objects.filter(order_item__order=order).count(),
        "tracking": TrackingEntry.objects.filter(order=order).count(),
        "audit": AuditEntry.objects.filter(entity="order", entity_id=order.pk).count(),
    }


def lines(order):
    return list(order.items.order_by("line_no"))


# --- status -------------------------------------------------------------------------------------------------------


def test_editor_cancels_an_order_with_a_reason(editor_client, order):
    response = editor_client.post(reverse("order_status", args=[order.pk]),
                                  {"status": "cancelled", "reason": "buyer asked by phone"})
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    entry = AuditEntry.objects.get(entity="order", entity_id=order.pk, field="status")
    assert (entry.old_value, entry.new_value, entry.reason) == ("awaiting_shipment", "cancelled", "buyer asked by phone")
    assert "Status changed." in messages_of(response)


def test_shipped_order_can_be_completed_by_hand(client_operator, merchant_a):
    order = OrderFactory(merchant=merchant_a, status=OrderStatus.SHIPPED)
    response = client_operator.post(reverse("order_status", args=[order.pk]),
                                     {"status": "completed", "reason": "buyer confirmed"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.completed_at is not None


def test_status_page_offers_only_the_allowed_transitions(client_operator, order):
    response = client_operator.get(reverse("order_detail", args=[order.pk]))
    assert [c for c, _label in response.context["status_form"].fields["status"].choices] == ["cancelled"]


@pytest.mark.parametrize("start, target", [
    (OrderStatus.AWAITING_SHIPMENT, "completed"),
    (OrderStatus.AWAITING_SHIPMENT, "shipped"),       # shipping goes through logistics, not a status change
    (OrderStatus.AWAITING_SHIPMENT, "pending_payment"),
    (OrderStatus.CANCELLED, "awaiting_shipment"),
    (OrderStatus.COMPLETED, "cancelled"),
])
def test_disallowed_status_transition_is_refused_at_the_field(client_operator, merchant_a, start, target):
    order = OrderFactory(merchant=merchant_a, status=start)
    before = snapshot(order)
    response = client_operator.post(reverse("order_status", args=[order.pk]), {"status": target, "reason": "try"})
    assert response.status_code == 400
    errors = response.context["status_form"].errors
    assert "cannot be changed to" in str(errors["status"])
    assert "cannot be changed to" in response.content.decode()
    assert snapshot(order) == before


@pytest.mark.parametrize("data, field", [
    ({"status": "cancelled", "reason": ""}, "reason"),
    ({"status": "cancelled", "reason": "   "}, "reason"),
    ({"status": "cancelled"}, "reason"),
    ({"status": "teleported", "reason": "x"}, "status"),
])
def test_status_change_needs_a_known_status_and_a_reason(client_operator, order, data, field):
    before = snapshot(order)
    response = client_operator.post(reverse("order_status", args=[order.pk]), data)
    assert response.status_code == 400
    assert field in response.context["status_form"].errors
    assert snapshot(order) == before


# --- logistics ----------------------------------------------------------------------------------------------------


def test_editor_enters_logistics_and_the_order_is_shipped_in_full(editor_client, order, carrier):
    response = editor_client.post(reverse("order_logistics", args=[order.pk]),
                                  {"carrier": "SF", "tracking_no": " SF1234567890 "})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert order.carrier == carrier and order.tracking_no == "SF1234567890"
    assert order.shipped_at is not None
    shipment = Shipment.objects.get(order=order)
    assert sorted(shipment.items.values_list("order_item__line_no", "quantity")) == [(1, 3), (2, 2)]
    page = editor_client.get(order.get_absolute_url()).content.decode()
    assert "SF1234567890" in page


def test_logistics_after_a_partial_shipment_ships_only_what_is_left(client_operator, order, carrier):
    first, second = lines(order)
    client_operator.post(reverse("order_shipment", args=[order.pk]),
                         {"s-carrier": "SF", "s-tracking_no": "T-1", f"i{first.pk}-quantity": "1"})
    client_operator.post(reverse("order_logistics", args=[order.pk]), {"carrier": "SF", "tracking_no": "T-2"})
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    last = Shipment.objects.get(order=order, tracking_no="T-2")
    assert sorted(last.items.values_list("order_item__line_no", "quantity")) == [(1, 2), (2, 2)]


@pytest.mark.parametrize("data, field, text", [
    ({"carrier": "NOPE", "tracking_no": "X1"}, "carrier", "Unknown carrier"),
    ({"carrier": "", "tracking_no": "X1"}, "carrier", ""),
    ({"carrier": "SF", "tracking_no": ""}, "tracking_no", ""),
    ({"carrier": "SF", "tracking_no": "   "}, "tracking_no", ""),
])
def test_logistics_rejects_bad_input_at_the_field_and_changes_nothing(client_operator, order, carrier, data, field,
                                                                       text):
    before = snapshot(order)
    response = client_operator.post(reverse("order_logistics", args=[order.pk]), data)
    assert response.status_code == 400
    assert field in response.context["logistics_form"].errors
    assert text in response.content.decode()
    assert snapshot(order) == before


def test_logistics_refuses_an_inactive_carrier(client_operator, order):
    CarrierFactory(code="OLD", name="Retired Express", is_active=False)
    before = snapshot(order)
    response = client_operator.post(reverse("order_logistics", args=[order.pk]), {"carrier": "OLD", "tracking_no": "1"})
    assert response.status_code == 400
    assert "Unknown carrier" in response.content.decode()
    assert snapshot(order) == before


def test_logistics_refuses_an_order_that_cannot_be_shipped(client_operator, merchant_a, carrier):
    order = OrderFactory(merchant=merchant_a, status=OrderStatus.CANCELLED)
    before = snapshot(order)
    response = client_operator.post(reverse("order_logistics", args=[order.pk]), {"carrier": "SF", "tracking_no": "1"})
    assert response.status_code == 400
    assert "cannot be shipped" in response.content.decode()
    assert snapshot(order) == before


# --- shipments ----------------------------------------------------------------------------------------------------


def test_editor_enters_a_partial_shipment_with_batch_data(editor_client, order, carrier):
    first, second = lines(order)
    response = editor_client.post(reverse("order_shipment", args=[order.pk]), {
        "s-carrier": "SF", "s-tracking_no": "SF-PART-1",
        f"i{first.pk}-quantity": "2", f"i{first.pk}-batch_no": "LOT-A",
        f"i{first.pk}-production_date": "2025-01-01", f"i{first.pk}-expiry_date": "2027-01-01",
        f"i{second.pk}-quantity": "",
    })
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert order.tracking_no == "SF-PART-1"
    item = ShipmentItem.objects.get(shipment__order=order)
    assert (item.order_item_id, item.quantity, item.batch_no) == (first.pk, 2, "LOT-A")
    assert (item.production_date, item.expiry_date) == (date(2025, 1, 1), date(2027, 1, 1))
    first.refresh_from_db()
    assert first.batch_no == "LOT-A"  # shown to the buyer
    page = editor_client.get(order.get_absolute_url())
    assert "LOT-A" in page.content.decode()
    # What is left to ship is offered on the page: 1 of line 1, 2 of line 2.
    assert [(i.pk, left) for i, left, _form in page.context["line_forms"]] == [(first.pk, 1), (second.pk, 2)]


def test_second_partial_shipment_completes_the_shipping(client_operator, order, carrier):
    first, second = lines(order)
    url = reverse("order_shipment", args=[order.pk])
    client_operator.post(url, {"s-carrier": "SF", "s-tracking_no": "A", f"i{first.pk}-quantity": "3"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    response = client_operator.post(url, {"s-carrier": "SF", "s-tracking_no": "B", f"i{second.pk}-quantity": "2",
                                          f"i{second.pk}-batch_no": "LOT-B"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert Shipment.objects.filter(order=order).count() == 2


@pytest.mark.parametrize("line_data, where", [
    ({"quantity": "4"}, "non_field"),                                     # 3 ordered
    ({"quantity": "-1"}, "line"),
    ({"quantity": "two"}, "line"),
    ({"quantity": "1", "production_date": "2025-06-01", "expiry_date": "2025-01-01"}, "line"),
    ({"quantity": "1", "expiry_date": "2025-02-30"}, "line"),
    ({"quantity": ""}, "non_field"),                                      # nothing to ship
])
def test_shipment_rejects_bad_lines_and_changes_nothing(client_operator, order, carrier, line_data, where):
    first = lines(order)[0]
    before = snapshot(order)
    data = {"s-carrier": "SF", "s-tracking_no": "X"}
    data.update({f"i{first.pk}-{k}": v for k, v in line_data.items()})
    response = client_operator.post(reverse("order_shipment", args=[order.pk]), data)
    assert response.status_code == 400
    if where == "line":
        line_form = next(f for item, _left, f in response.context["line_forms"] if item.pk == first.pk)
        assert line_form.errors
    else:
        assert response.context["shipment_form"].non_field_errors()
    assert snapshot(order) == before


def test_shipment_above_the_quantity_left_after_an_earlier_shipment_is_refused(client_operator, order, carrier):
    first = lines(order)[0]
    url = reverse("order_shipment", args=[order.pk])
    client_operator.post(url, {"s-carrier": "SF", "s-tracking_no": "A", f"i{first.pk}-quantity": "2"})
    before = snapshot(order)
    response = client_operator.post(url, {"s-carrier": "SF", "s-tracking_no": "B", f"i{first.pk}-quantity": "2"})
    assert response.status_code == 400
    assert "more than the 1 not yet shipped" in response.content.decode()
    assert snapshot(order) == before


@pytest.mark.parametrize("data, field", [
    ({"s-carrier": "NOPE", "s-tracking_no": "X"}, "carrier"),
    ({"s-carrier": "SF", "s-tracking_no": ""}, "tracking_no"),
])
def test_shipment_rejects_unknown_carrier_or_missing_tracking_number(client_operator, order, carrier, data, field):
    first = lines(order)[0]
    before = snapshot(order)
    response = client_operator.post(reverse("order_shipment", args=[order.pk]), {**data, f"i{first.pk}-quantity": "1"})
    assert response.status_code == 400
    assert field in response.context["shipment_form"].errors
    assert snapshot(order) == before


def test_shipment_ignores_lines_of_another_order(client_operator, order, merchant_a, carrier):
    """Item fields are read only for this order's items: another order's item id in a field name does nothing."""
    other = OrderFactory(merchant=merchant_a)
    other_item = other.items.first()
    first = lines(order)[0]
    response = client_operator.post(reverse("order_shipment", args=[order.pk]), {
        "s-carrier": "SF", "s-tracking_no": "X", f"i{first.pk}-quantity": "1", f"i{other_item.pk}-quantity": "1"})
    assert response.status_code == 302
    assert not ShipmentItem.objects.filter(order_item=other_item).exists()
    other.refresh_from_db()
    assert other.status == OrderStatus.AWAITING_SHIPMENT


# --- ERP status ---------------------------------------------------------------------------------------------------


def test_erp_status_adds_a_tracking_entry(editor_client, order):
    response = editor_client.post(reverse("order_erp_status", args=[order.pk]), {"erp_status": "picking"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.erp_status == "picking"
    assert order.status == OrderStatus.AWAITING_SHIPMENT
    entry = TrackingEntry.objects.get(order=order)
    assert entry.message == "Order processed, merchant picking"
    assert "Order processed, merchant picking" in editor_client.get(order.get_absolute_url()).content.decode()


def test_erp_status_signed_completes_the_order(client_operator, merchant_a):
    order = OrderFactory(merchant=merchant_a, status=OrderStatus.SHIPPED, erp_status="delivering")
    response = client_operator.post(reverse("order_erp_status", args=[order.pk]),
                                    {"erp_status": "signed", "message": "Signed by the front desk"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.erp_status) == (OrderStatus.COMPLETED, "signed")
    assert order.completed_at is not None
    assert list(order.tracking.values_list("message", flat=True)) == ["Signed by the front desk"]


@pytest.mark.parametrize("start, target", [("picking", "submitted"), ("picking", "picking"), ("", "bogus"),
                                           ("", "")])
def test_erp_status_cannot_move_backwards_or_be_unknown(client_operator, merchant_a, start, target):
    order = OrderFactory(merchant=merchant_a, erp_status=start)
    before = snapshot(order)
    response = client_operator.post(reverse("order_erp_status", args=[order.pk]), {"erp_status": target})
    assert response.status_code == 400
    assert "erp_status" in response.context["erp_form"].errors
    assert snapshot(order) == before


def test_erp_status_of_a_cancelled_order_is_refused(client_operator, merchant_a):
    order = OrderFactory(merchant=merchant_a, status=OrderStatus.CANCELLED)
    before = snapshot(order)
    response = client_operator.post(reverse("order_erp_status", args=[order.pk]), {"erp_status": "submitted"})
    assert response.status_code == 400
    assert "This order is cancelled." in response.content.decode()
    assert snapshot(order) == before


def test_shipment_on_an_order_that_moved_on_says_why_it_was_refused(client_operator, merchant_a, carrier):
    """The shipment form is no longer on the page of a cancelled order; the refusal must still be shown."""
    order = OrderFactory(merchant=merchant_a, status=OrderStatus.CANCELLED)
    first = lines(order)[0]
    before = snapshot(order)
    response = client_operator.post(reverse("order_shipment", args=[order.pk]),
                                    {"s-carrier": "SF", "s-tracking_no": "X", f"i{first.pk}-quantity": "1"})
    assert response.status_code == 400
    assert "An order that is Cancelled cannot be shipped." in response.content.decode()
    assert snapshot(order) == before


# --- the viewer reads only ----------------------------------------------------------------------------------------


def test_viewer_cannot_change_orders(client_viewer, order, carrier):
    first = lines(order)[0]
    before = snapshot(order)
    for name, data in [
        ("order_status", {"status": "cancelled", "reason": "x"}),
        ("order_logistics", {"carrier": "SF", "tracking_no": "1"}),
        ("order_shipment", {"s-carrier": "SF", "s-tracking_no": "1", f"i{first.pk}-quantity": "1"}),
        ("order_erp_status", {"erp_status": "picking"}),
    ]:
        assert client_viewer.post(reverse(name, args=[order.pk]), data).status_code == 403, name
    assert snapshot(order) == before


@pytest.mark.parametrize("name", ["order_status", "order_logistics", "order_shipment", "order_erp_status"])
def test_order_operations_refuse_get(client_owner, order, name):
    assert client_owner.get(reverse(name, args=[order.pk])).status_code == 405
