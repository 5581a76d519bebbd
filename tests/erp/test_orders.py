"""Orders handed to the ERP bridge (SPEC S9): sent in the Open API's order shape, marked taken only once the
bridge has them, never sent again after that, and a rejected one not offered again every minute."""
from datetime import timedelta

import pytest
from django.utils import timezone

from merchant.models import AuditEntry, AuditSource, Module, Order, OrderStatus
from merchant.services.switches import module_switch_set
from sync.erp.models import ErpOrderRefusal
from sync.erp.sandbox.models import SandboxErpCall, SandboxErpOrder
from tests.factories import OrderFactory

from .conftest import faults, hand_over

pytestmark = pytest.mark.usefixtures("english")


def posts(bridge) -> int:
    return SandboxErpCall.objects.filter(erp=bridge, method="POST /orders").count()


def test_waiting_orders_are_handed_over_and_marked_taken(connection, bridge, order):
    summary = hand_over(connection)

    assert (summary["outcome"], summary["sent"], summary["accepted"]) == ("ok", 1, 1)
    received = SandboxErpOrder.objects.get(erp=bridge)
    assert received.order_no == order.order_no
    assert received.data["basic"]["customer"]["erp_customer_code"] == "CUST-A1"
    assert [(i["erp_product_id"], i["quantity"]) for i in received.data["items"]] == [
        (item.erp_product_id, item.quantity) for item in order.items.order_by("line_no")]
    order.refresh_from_db()
    assert order.taken_by_erp and order.taken_at is not None
    audit = AuditEntry.objects.get(entity="order", entity_id=order.pk, field="taken_by_erp")
    assert audit.source == AuditSource.ERP


def test_an_order_taken_is_not_sent_again(connection, bridge, order):
    hand_over(connection)

    again = hand_over(connection)

    assert again["sent"] == 0
    assert posts(bridge) == 1
    assert SandboxErpOrder.objects.filter(erp=bridge).count() == 1


def test_a_duplicate_answer_marks_the_order_taken(connection, bridge, order):
    # Our earlier call timed out after the bridge had stored the order.
    SandboxErpOrder.objects.create(erp=bridge, order_no=order.order_no, data={}, received_at=timezone.now())

    summary = hand_over(connection)

    assert (summary["duplicate"], summary["accepted"]) == (1, 0)
    order.refresh_from_db()
    assert order.taken_by_erp


def test_a_failed_post_is_retried_and_the_order_arrives_once(connection, bridge, order):
    faults(bridge, fail_next=2)

    summary = hand_over(connection)

    assert (summary["outcome"], summary["accepted"], summary["failed_calls"]) == ("ok", 1, 2)
    assert SandboxErpOrder.objects.filter(erp=bridge).count() == 1


def test_a_rejected_order_stays_untaken_and_is_offered_again_only_after_a_wait(
        connection, bridge, order, merchant_a):
    blocked = order.items.first().erp_product_id
    faults(bridge, refuse_products=blocked)
    other = OrderFactory(merchant=merchant_a)

    first = hand_over(connection)

    assert (first["sent"], first["accepted"], first["rejected"]) == (2, 1, 1)
    order.refresh_from_db()
    assert not order.taken_by_erp
    refusal = ErpOrderRefusal.objects.get(connection=connection, order=order)
    assert blocked in refusal.message
    assert any(order.order_no in error and blocked in error for error in first["errors"])
    assert Order.objects.get(pk=other.pk).taken_by_erp
    from merchant.models import Notification, NotificationEvent

    notice = Notification.objects.get(event=NotificationEvent.ERP_REJECTED)
    assert order.order_no in notice.body and blocked in notice.body

    assert hand_over(connection)["sent"] == 0  # waiting
    faults(bridge, refuse_products="")
    ErpOrderRefusal.objects.filter(pk=refusal.pk).update(refused_at=timezone.now() - timedelta(hours=2))

    later = hand_over(connection)

    assert (later["sent"], later["accepted"]) == (1, 1)
    assert not ErpOrderRefusal.objects.exists()


def test_only_paid_orders_still_to_ship_of_this_merchant_are_handed_over(connection, bridge, merchant_a, merchant_b):
    waiting = OrderFactory(merchant=merchant_a, status=OrderStatus.PARTIALLY_SHIPPED)
    for status in (OrderStatus.PENDING_PAYMENT, OrderStatus.SHIPPED, OrderStatus.CANCELLED):
        OrderFactory(merchant=merchant_a, status=status)
    OrderFactory(merchant=merchant_a, taken_by_erp=True)
    OrderFactory(merchant=merchant_b)

    summary = hand_over(connection)

    assert summary["sent"] == 1
    assert list(SandboxErpOrder.objects.values_list("order_no", flat=True)) == [waiting.order_no]


def test_nothing_is_handed_over_while_the_orders_sync_is_off(connection, bridge, order, merchant_a, owner_actor):
    module_switch_set(merchant=merchant_a, module=Module.ORDERS, enabled=False, actor=owner_actor)

    summary = hand_over(connection)

    assert summary["sent"] == 0 and "off" in summary["paused"]
    assert posts(bridge) == 0


def test_a_backlog_goes_in_batches(connection, bridge, merchant_a, monkeypatch):
    from sync.erp import orders as erp_orders

    monkeypatch.setattr(erp_orders, "BATCH", 2)
    for _ in range(5):
        OrderFactory(merchant=merchant_a, items=1)

    summary = hand_over(connection)

    assert (summary["sent"], summary["accepted"], summary["windows"]) == (5, 5, 3)
    assert posts(bridge) == 3
    assert not Order.objects.filter(merchant=merchant_a, taken_by_erp=False).exists()
