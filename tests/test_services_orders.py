from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from merchant.models import AuditEntry, ErpStatus, Order, OrderStatus, Shipment, ShipmentItem, TrackingEntry
from merchant.permissions import Actor
from merchant.services.orders import (
    ShipmentLine, allowed_transitions, order_erp_status_add, order_logistics_enter, order_shipment_add,
    order_status_change, remaining_quantities,
)

from .factories import CarrierFactory, OrderFactory

# Messages are asserted in English; the default language is Simplified Chinese.
pytestmark = pytest.mark.usefixtures("english")

S = OrderStatus


def lines_of(order):
    return list(order.items.order_by("line_no"))


# Manual status changes

@pytest.mark.parametrize("start,target", [
    (S.PENDING_PAYMENT, S.AWAITING_SHIPMENT),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.AWAITING_SHIPMENT, S.CANCELLED),
    (S.SHIPPED, S.COMPLETED),
])
def test_allowed_manual_transition_changes_status_and_audits_reason(merchant_a, operator, operator_actor,
                                                                    start, target):
    order = OrderFactory(merchant=merchant_a, status=start)
    before = order.modified_at

    order_status_change(order=order, status=target, reason="  customer called  ", actor=operator_actor)

    order.refresh_from_db()
    assert order.status == target
    assert order.modified_at > before
    entry = AuditEntry.objects.get(entity="order", entity_id=order.pk, field="status")
    assert (entry.old_value, entry.new_value, entry.reason, entry.actor) == (
        start, target, "customer called", operator)


def test_completing_by_hand_records_the_completion_time(merchant_a, operator_actor):
    order = OrderFactory(merchant=merchant_a, status=S.SHIPPED)

    order_status_change(order=order, status=S.COMPLETED, reason="signed on paper", actor=operator_actor)

    order.refresh_from_db()
    assert order.completed_at is not None


@pytest.mark.parametrize("start,target", [
    (S.PENDING_PAYMENT, S.SHIPPED),
    (S.PENDING_PAYMENT, S.COMPLETED),
    (S.AWAITING_SHIPMENT, S.SHIPPED),
    (S.AWAITING_SHIPMENT, S.PENDING_PAYMENT),
    (S.PARTIALLY_SHIPPED, S.CANCELLED),
    (S.SHIPPED, S.AWAITING_SHIPMENT),
    (S.COMPLETED, S.CANCELLED),
    (S.CANCELLED, S.AWAITING_SHIPMENT),
    (S.AWAITING_SHIPMENT, "teleported"),
])
def test_disallowed_manual_transition_is_rejected_and_changes_nothing(merchant_a, operator_actor, start, target):
    order = OrderFactory(merchant=merchant_a, status=start)

    with pytest.raises(ValidationError) as exc:
        order_status_change(order=order, status=target, reason="try", actor=operator_actor)

    assert "status" in exc.value.message_dict
    order.refresh_from_db()
    assert order.status == start
    assert not AuditEntry.objects.filter(entity="order", entity_id=order.pk).exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_status_change_requires_a_reason(order, operator_actor, reason):
    with pytest.raises(ValidationError) as exc:
        order_status_change(order=order, status=S.CANCELLED, reason=reason, actor=operator_actor)

    assert "reason" in exc.value.message_dict
    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT


def test_allowed_transitions_lists_the_manual_targets(merchant_a):
    assert allowed_transitions(OrderFactory.build(merchant=merchant_a, status=S.PENDING_PAYMENT)) == [
        S.AWAITING_SHIPMENT, S.CANCELLED]
    assert allowed_transitions(OrderFactory.build(merchant=merchant_a, status=S.COMPLETED)) == []


def test_viewer_cannot_change_order_status(order, viewer_actor):
    with pytest.raises(PermissionDenied):
        order_status_change(order=order, status=S.CANCELLED, reason="no", actor=viewer_actor)

    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT


# Logistics and shipments

def test_logistics_entry_ships_everything_remaining(order, carrier, operator, operator_actor):
    shipment = order_logistics_enter(order=order, carrier=carrier, tracking_no=" SF123 ", actor=operator_actor)

    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert (order.carrier, order.tracking_no) == (carrier, "SF123")
    assert order.shipped_at is not None
    assert shipment.created_by == operator
    shipped = {si.order_item_id: si.quantity for si in shipment.items.all()}
    assert shipped == {item.pk: item.quantity for item in lines_of(order)}
    assert set(remaining_quantities(order).values()) == {0}


def test_logistics_entry_after_a_partial_shipment_covers_only_the_rest(order, carrier, operator_actor):
    first, second = lines_of(order)
    order_shipment_add(order=order, carrier=carrier, tracking_no="T1", actor=operator_actor,
                       lines=[ShipmentLine(order_item=first, quantity=1)])

    shipment = order_logistics_enter(order=order, carrier=carrier, tracking_no="T2", actor=operator_actor)

    shipped = {si.order_item_id: si.quantity for si in shipment.items.all()}
    assert shipped == {first.pk: first.quantity - 1, second.pk: second.quantity}
    order.refresh_from_db()
    assert order.status == S.SHIPPED


@pytest.mark.parametrize("tracking_no", ["", "   "])
def test_logistics_entry_requires_a_tracking_number(order, carrier, operator_actor, tracking_no):
    with pytest.raises(ValidationError):
        order_logistics_enter(order=order, carrier=carrier, tracking_no=tracking_no, actor=operator_actor)

    assert not Shipment.objects.exists()


def test_logistics_entry_requires_an_active_carrier(order, operator_actor):
    with pytest.raises(ValidationError):
        order_logistics_enter(order=order, carrier=CarrierFactory(is_active=False), tracking_no="X",
                              actor=operator_actor)
    with pytest.raises(ValidationError):
        order_logistics_enter(order=order, carrier=None, tracking_no="X", actor=operator_actor)

    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT


@pytest.mark.parametrize("status", [S.PENDING_PAYMENT, S.CANCELLED, S.COMPLETED])
def test_orders_that_are_not_awaiting_shipment_cannot_be_shipped(merchant_a, carrier, operator_actor, status):
    order = OrderFactory(merchant=merchant_a, status=status)

    with pytest.raises(ValidationError):
        order_logistics_enter(order=order, carrier=carrier, tracking_no="X", actor=operator_actor)

    order.refresh_from_db()
    assert order.status == status
    assert not Shipment.objects.exists()


def test_partial_shipment_then_the_rest_moves_partially_shipped_then_shipped(order, carrier, operator_actor):
    first, second = lines_of(order)
    today = timezone.localdate()

    order_shipment_add(order=order, carrier=carrier, tracking_no="P1", actor=operator_actor, lines=[
        ShipmentLine(order_item=first, quantity=2, batch_no="L001", production_date=today - timedelta(days=30),
                     expiry_date=today + timedelta(days=700)),
    ])
    order.refresh_from_db()
    assert order.status == S.PARTIALLY_SHIPPED
    assert remaining_quantities(order) == {first.pk: 1, second.pk: 2}
    first.refresh_from_db()
    assert first.batch_no == "L001"

    order_shipment_add(order=order, carrier=carrier, tracking_no="P2", actor=operator_actor, lines=[
        ShipmentLine(order_item=first, quantity=1, batch_no="L002"),
        ShipmentLine(order_item=second, quantity=2),
    ])
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert order.tracking_no == "P2"
    assert order.shipments.count() == 2
    first.refresh_from_db()
    assert first.batch_no == "L001,L002"
    item = ShipmentItem.objects.get(batch_no="L001")
    assert item.production_date == today - timedelta(days=30)


def test_shipping_more_than_remaining_is_rejected_and_changes_nothing(order, carrier, operator_actor):
    first, second = lines_of(order)

    with pytest.raises(ValidationError) as exc:
        order_shipment_add(order=order, carrier=carrier, tracking_no="OVER", actor=operator_actor, lines=[
            ShipmentLine(order_item=second, quantity=1),
            ShipmentLine(order_item=first, quantity=first.quantity + 1, batch_no="B9"),
        ])

    assert "more than" in str(exc.value)
    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT
    assert order.tracking_no == ""
    assert not Shipment.objects.exists() and not ShipmentItem.objects.exists()
    first.refresh_from_db()
    assert first.batch_no == ""


def test_one_item_split_over_two_batches_cannot_exceed_its_quantity(order, carrier, operator_actor):
    first, _second = lines_of(order)  # quantity 3

    with pytest.raises(ValidationError):
        order_shipment_add(order=order, carrier=carrier, tracking_no="SPLIT", actor=operator_actor, lines=[
            ShipmentLine(order_item=first, quantity=2, batch_no="B1"),
            ShipmentLine(order_item=first, quantity=2, batch_no="B2"),
        ])

    assert not ShipmentItem.objects.exists()
    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT


def test_one_item_split_over_two_batches_shows_both_batches_to_the_buyer(order, carrier, operator_actor):
    first, second = lines_of(order)
    # Two lines built from separately loaded rows, as a form or an API request would.
    first_again = order.items.get(pk=first.pk)

    order_shipment_add(order=order, carrier=carrier, tracking_no="SPLIT", actor=operator_actor, lines=[
        ShipmentLine(order_item=first, quantity=1, batch_no="B1"),
        ShipmentLine(order_item=first_again, quantity=2, batch_no="B2"),
        ShipmentLine(order_item=second, quantity=2),
    ])

    first.refresh_from_db()
    assert first.batch_no == "B1,B2"
    order.refresh_from_db()
    assert order.status == S.SHIPPED


def test_batches_already_shown_to_the_buyer_survive_a_shipment_built_from_stale_rows(order, carrier,
                                                                                     operator_actor):
    first, second = lines_of(order)  # loaded before the first shipment, as by a concurrent request
    order_shipment_add(order=order, carrier=carrier, tracking_no="T1", actor=operator_actor,
                       lines=[ShipmentLine(order_item=order.items.get(pk=first.pk), quantity=1, batch_no="B1")])

    order_shipment_add(order=order, carrier=carrier, tracking_no="T2", actor=operator_actor,
                       lines=[ShipmentLine(order_item=first, quantity=2, batch_no="B2")])

    first.refresh_from_db()
    assert first.batch_no == "B1,B2"


def test_shipment_rejects_items_of_another_order(order, merchant_a, carrier, operator_actor):
    stranger = OrderFactory(merchant=merchant_a, items=1).items.get()

    with pytest.raises(ValidationError):
        order_shipment_add(order=order, carrier=carrier, tracking_no="X", actor=operator_actor,
                           lines=[ShipmentLine(order_item=stranger, quantity=1)])

    assert not Shipment.objects.exists()


def test_shipment_rejects_negative_quantities_and_needs_at_least_one(order, carrier, operator_actor):
    first, _ = lines_of(order)

    with pytest.raises(ValidationError):
        order_shipment_add(order=order, carrier=carrier, tracking_no="X", actor=operator_actor,
                           lines=[ShipmentLine(order_item=first, quantity=-1)])
    with pytest.raises(ValidationError):
        order_shipment_add(order=order, carrier=carrier, tracking_no="X", actor=operator_actor,
                           lines=[ShipmentLine(order_item=first, quantity=0)])

    assert not Shipment.objects.exists()


def test_shipment_line_with_expiry_before_production_is_rejected(order, carrier, operator_actor):
    first, _ = lines_of(order)
    today = timezone.localdate()

    with pytest.raises(ValidationError):
        order_shipment_add(order=order, carrier=carrier, tracking_no="X", actor=operator_actor, lines=[
            ShipmentLine(order_item=first, quantity=1, production_date=today, expiry_date=today - timedelta(days=1))
        ])

    assert not Shipment.objects.exists()


def test_viewer_cannot_enter_logistics(order, carrier, viewer_actor):
    with pytest.raises(PermissionDenied):
        order_logistics_enter(order=order, carrier=carrier, tracking_no="X", actor=viewer_actor)

    assert not Shipment.objects.exists()


# ERP status timeline

def test_erp_status_adds_a_tracking_entry_with_the_standard_message(order, operator_actor):
    entry = order_erp_status_add(order=order, erp_status=ErpStatus.PICKING, actor=operator_actor)

    assert entry.message == "Order processed, merchant picking"
    assert list(TrackingEntry.objects.filter(order=order).values_list("erp_status", flat=True)) == ["picking"]
    order.refresh_from_db()
    assert order.erp_status == ErpStatus.PICKING
    assert order.status == S.AWAITING_SHIPMENT


def test_erp_status_only_moves_forward(order, operator_actor):
    order_erp_status_add(order=order, erp_status=ErpStatus.OUT_OF_WAREHOUSE, actor=operator_actor)

    for backwards in (ErpStatus.OUT_OF_WAREHOUSE, ErpStatus.PICKING, ErpStatus.SUBMITTED):
        with pytest.raises(ValidationError):
            order_erp_status_add(order=order, erp_status=backwards, actor=operator_actor)

    order.refresh_from_db()
    assert order.erp_status == ErpStatus.OUT_OF_WAREHOUSE
    assert TrackingEntry.objects.filter(order=order).count() == 1


def test_erp_status_signed_completes_the_order(order, carrier, operator_actor):
    order_logistics_enter(order=order, carrier=carrier, tracking_no="SF1", actor=Actor.system(source="erp"))
    for status in (ErpStatus.SUBMITTED, ErpStatus.PICKING, ErpStatus.OUT_OF_WAREHOUSE, ErpStatus.DELIVERING):
        order_erp_status_add(order=order, erp_status=status, actor=operator_actor)
    signed_at = timezone.now() + timedelta(seconds=1)

    order_erp_status_add(order=order, erp_status=ErpStatus.SIGNED, actor=operator_actor, at=signed_at,
                         message="Signed by the front desk")

    order.refresh_from_db()
    assert order.status == S.COMPLETED
    assert order.completed_at == signed_at
    timeline = list(order.tracking.values_list("erp_status", flat=True))
    assert timeline == ["submitted", "picking", "out_of_warehouse", "delivering", "signed"]
    assert order.tracking.last().message == "Signed by the front desk"


def test_unknown_erp_status_is_rejected(order, operator_actor):
    with pytest.raises(ValidationError):
        order_erp_status_add(order=order, erp_status="lost", actor=operator_actor)

    assert not TrackingEntry.objects.exists()


def test_cancelled_order_takes_no_erp_status(merchant_a, operator_actor):
    order = OrderFactory(merchant=merchant_a, status=S.CANCELLED)

    with pytest.raises(ValidationError):
        order_erp_status_add(order=order, erp_status=ErpStatus.SIGNED, actor=operator_actor)

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert not TrackingEntry.objects.exists()


def test_viewer_cannot_add_erp_status(order, viewer_actor):
    with pytest.raises(PermissionDenied):
        order_erp_status_add(order=order, erp_status=ErpStatus.SUBMITTED, actor=viewer_actor)

    assert Order.objects.get(pk=order.pk).erp_status == ""
