"""The order side of the Open API (SPEC A2): the ERP's order query, which marks what it returns as taken,
and its fulfilment uploads (logistics, partial shipments, ERP statuses), answered per item."""
import base64
import json
from datetime import date, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from merchant.api.order_schemas import openapi_paths
from merchant.models import (
    AuditEntry, AuditSource, ErpStatus, IdempotencyRecord, Module, Order, OrderSource, OrderStatus, Shipment,
    ShipmentItem, TrackingEntry,
)
from merchant.permissions import Actor
from merchant.services.orders import ShipmentLine, order_shipment_add
from tests.factories import CarrierFactory, ModuleSwitchFactory, OrderFactory

pytestmark = pytest.mark.django_db


def _orders(erp, **params):
    response = erp.get("orders", params)
    return response.status_code, json.loads(response.content)


# The order query -------------------------------------------------------------------------------------------

def test_query_answers_the_five_parts_and_marks_the_orders_taken(erp, order, carrier):
    order_shipment_add(order=order, carrier=carrier, tracking_no="SF1", actor=Actor.system(), lines=[
        ShipmentLine(order_item=order.items.get(line_no=1), quantity=2, batch_no="B7",
                     production_date=date(2026, 1, 1), expiry_date=date(2028, 1, 1))])

    status, answer = _orders(erp)

    assert status == 200
    assert (answer["marked"], answer["newly_marked"], answer["reason"], answer["next_cursor"]) == (True, 1, None, None)
    [got] = answer["orders"]
    assert set(got) == {"order_no", "source", "basic", "amounts", "shipping", "invoice", "items"}
    assert got["order_no"] == order.order_no
    assert got["basic"]["status"] == "partially_shipped"
    assert got["basic"]["customer"] == {"name": "Alpha Pharmacy", "uscc": order.customer.uscc,
                                        "erp_customer_code": "CUST-A1"}
    assert got["basic"]["taken_by_erp"] is True and got["basic"]["taken_at"]
    assert got["amounts"]["total_amount"] == f"{order.total_amount:.2f}"
    assert got["shipping"]["shipments"][0]["tracking_no"] == "SF1"
    line = got["items"][0]
    assert (line["line_no"], line["quantity"], line["batch_numbers"], line["shipped_quantity"]) == (1, 3, ["B7"], 2)
    assert line["shipments"] == [{"quantity": 2, "batch_no": "B7", "production_date": "2026-01-01",
                                  "expiry_date": "2028-01-01", "tracking_no": "SF1"}]
    assert got["items"][1]["shipments"] == []
    order.refresh_from_db()
    assert order.taken_by_erp and order.taken_at is not None
    entry = AuditEntry.objects.get(entity="order", entity_id=order.pk, field="taken_by_erp")
    assert (entry.source, entry.old_value, entry.new_value) == (AuditSource.API, "False", "True")


def test_query_times_carry_the_offset_and_money_is_a_two_decimal_string(erp, order):
    _status, answer = _orders(erp)

    got = answer["orders"][0]
    assert got["basic"]["created_at"].endswith("+08:00")
    assert all(isinstance(value, str) and value.count(".") == 1 and len(value.split(".")[1]) == 2
               for value in got["amounts"].values())


def test_mark_false_answers_without_marking(erp, order):
    status, answer = _orders(erp, mark="false")

    assert status == 200 and len(answer["orders"]) == 1
    assert (answer["marked"], answer["newly_marked"]) == (False, 0)
    assert "mark=false" in answer["reason"]
    order.refresh_from_db()
    assert not order.taken_by_erp
    assert not AuditEntry.objects.filter(entity="order", field="taken_by_erp").exists()


def test_orders_switch_off_answers_the_orders_unmarked_and_says_why(erp, order, merchant_a):
    ModuleSwitchFactory(merchant=merchant_a, module=Module.ORDERS, enabled=False)

    _status, answer = _orders(erp)

    assert len(answer["orders"]) == 1
    assert answer["marked"] is False
    assert "Orders" in answer["reason"] and "off" in answer["reason"]
    order.refresh_from_db()
    assert not order.taken_by_erp


def test_an_order_taken_before_is_returned_but_not_marked_again(erp, order):
    _orders(erp)
    first = Order.objects.get(pk=order.pk).taken_at

    _status, answer = _orders(erp)

    assert (len(answer["orders"]), answer["marked"], answer["newly_marked"]) == (1, True, 0)
    assert Order.objects.get(pk=order.pk).taken_at == first
    assert AuditEntry.objects.filter(entity="order", field="taken_by_erp").count() == 1


def test_filters_by_time_status_sync_status_and_order_number(erp, merchant_a):
    now = timezone.now()
    old = OrderFactory(merchant=merchant_a, created_at=now - timedelta(days=3), order_no="OLD")
    new = OrderFactory(merchant=merchant_a, created_at=now - timedelta(hours=1), order_no="NEW",
                       status=OrderStatus.PENDING_PAYMENT)
    OrderFactory(merchant=merchant_a, created_at=now - timedelta(hours=2), order_no="TAKEN",
                 taken_by_erp=True, taken_at=now)
    since = timezone.localtime(now - timedelta(days=1)).isoformat()

    def numbers(**params):
        status, answer = _orders(erp, mark="false", **params)
        assert status == 200, answer
        return [o["order_no"] for o in answer["orders"]]

    assert numbers(created_from=since) == ["TAKEN", "NEW"]
    assert numbers(created_to=since) == ["OLD"]
    assert numbers(status="pending_payment") == ["NEW"]
    assert numbers(status="pending_payment,awaiting_shipment") == ["OLD", "TAKEN", "NEW"]
    assert numbers(sync_status="taken") == ["TAKEN"]
    assert numbers(sync_status="not_taken") == ["OLD", "NEW"]
    assert numbers(order_no="NEW") == ["NEW"]
    assert numbers(order="newest") == ["NEW", "TAKEN", "OLD"]
    assert not Order.objects.filter(pk__in=[old.pk, new.pk], taken_by_erp=True).exists()
    # ISO 8601 offsets go to 23:59, PostgreSQL's to 15:59: the same instant is asked for in UTC.
    far = (now - timedelta(days=1)).astimezone(dt_timezone(-timedelta(hours=19, minutes=31))).isoformat()
    assert numbers(created_from=far) == ["TAKEN", "NEW"]


def test_an_unencoded_plus_in_the_offset_still_reads_as_plus(erp, merchant_a):
    OrderFactory(merchant=merchant_a, created_at=timezone.now() - timedelta(hours=1))
    since = timezone.localtime(timezone.now() - timedelta(hours=2)).replace(microsecond=0).isoformat()

    status, answer = _orders(erp, mark="false", created_from=since.replace("+", " "))

    assert status == 200 and len(answer["orders"]) == 1


def test_keyset_pages_lose_no_order_while_marking_shrinks_the_not_taken_set(erp, merchant_a):
    start = timezone.now() - timedelta(hours=5)
    numbers = [OrderFactory(merchant=merchant_a, created_at=start + timedelta(minutes=i), items=1).order_no
               for i in range(5)]
    seen, cursor = [], None
    for _page in range(5):
        params = {"sync_status": "not_taken", "limit": 2, **({"cursor": cursor} if cursor else {})}
        status, answer = _orders(erp, **params)
        assert status == 200
        seen += [o["order_no"] for o in answer["orders"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break

    assert seen == numbers
    assert not Order.objects.filter(taken_by_erp=False).exists()


def test_a_cursor_of_the_other_order_or_a_made_up_one_is_refused(erp, merchant_a):
    for i in range(3):
        OrderFactory(merchant=merchant_a, created_at=timezone.now() - timedelta(hours=i + 1), items=0)
    _status, answer = _orders(erp, mark="false", limit=1)

    wrong_way = _orders(erp, mark="false", cursor=answer["next_cursor"], order="newest")
    made_up = _orders(erp, cursor="bm90IGEgY3Vyc29y")
    huge = _orders(erp, cursor=base64.urlsafe_b64encode(
        json.dumps(["oldest", "2026-03-01T00:00:00+00:00", 10**30]).encode()).decode())

    assert wrong_way[0] == 400 and "order=oldest" in wrong_way[1]["error"]["message"]
    assert made_up[0] == huge[0] == 400
    assert made_up[1]["error"]["code"] == huge[1]["error"]["code"] == "bad_parameter"
    assert not Order.objects.filter(taken_by_erp=True).exists()


@pytest.mark.parametrize("params, named", [
    ({"created_from": "2026-03-01T08:00:00"}, "created_from"),  # no offset
    ({"created_from": "yesterday"}, "created_from"),
    ({"created_from": "2026-03-02T00:00:00+08:00", "created_to": "2026-03-01T00:00:00+08:00"}, "created_to"),
    ({"status": "lost"}, "status"),
    ({"sync_status": "maybe"}, "sync_status"),
    ({"limit": "101"}, "limit"),
    ({"limit": "0"}, "limit"),
    ({"limit": "²"}, "limit"),
    ({"mark": "no"}, "mark"),
    ({"order_no": "x\x00"}, "order_no"),
    ({"created_form": "2026-03-01T00:00:00Z"}, "created_form"),
])
def test_bad_query_parameters_are_refused_by_name_and_nothing_is_marked(erp, order, params, named):
    status, answer = _orders(erp, **params)

    assert status == 400
    assert named in answer["error"]["message"]
    order.refresh_from_db()
    assert not order.taken_by_erp


def test_another_merchants_orders_are_neither_returned_nor_marked(erp, order, outsider_order):
    _status, answer = _orders(erp)
    by_number = _orders(erp, order_no=outsider_order.order_no)[1]

    assert [o["order_no"] for o in answer["orders"]] == [order.order_no]
    assert by_number["orders"] == []
    outsider_order.refresh_from_db()
    assert not outsider_order.taken_by_erp


def test_query_takes_a_fixed_number_of_queries_whatever_the_page_size(erp, merchant_a, customer,
                                                                      django_assert_max_num_queries):
    for _ in range(20):
        OrderFactory(merchant=merchant_a, customer=customer, items=3)

    with django_assert_max_num_queries(30):
        status, answer = _orders(erp, limit=20)

    assert status == 200 and len(answer["orders"]) == 20


def test_carriers_lists_the_active_codes(erp):
    CarrierFactory(code="SF", name="SF Express")
    CarrierFactory(code="ZTO", name="ZTO Express")
    CarrierFactory(code="OLD", name="Gone", is_active=False)

    response = erp.get("carriers")

    assert response.status_code == 200
    assert json.loads(response.content) == {"carriers": [{"code": "SF", "name": "SF Express"},
                                                         {"code": "ZTO", "name": "ZTO Express"}]}


# Logistics -------------------------------------------------------------------------------------------------

def test_logistics_ships_the_order_and_answers_each_item(erp, order, carrier, merchant_a):
    cancelled = OrderFactory(merchant=merchant_a, status=OrderStatus.CANCELLED, order_no="GONE")

    status, answer = erp.items(
        "orders/logistics",
        {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF100"},
        {"order_no": "NOPE", "carrier_code": "SF", "tracking_no": "SF101"},
        {"order_no": order.order_no, "carrier_code": "UPS?", "tracking_no": "SF102"},
        {"order_no": cancelled.order_no, "carrier_code": "SF", "tracking_no": "SF103"},
        {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF100", "weight": 3},
    )

    assert status == 200
    assert answer["counts"] == {"ok": 1, "held": 0, "invalid": 4}
    ok, unknown, carrier_bad, wrong_status, extra = answer["results"]
    assert ok == {"index": 0, "key": order.order_no, "status": "ok", "changed": True, "order_status": "shipped"}
    assert unknown["errors"] == [{"field": "items[1].order_no", "message": "no order with this number"}]
    assert carrier_bad["errors"][0]["field"] == "items[2].carrier_code"
    assert "unknown carrier" in carrier_bad["errors"][0]["message"]
    assert wrong_status["errors"] == [{"field": "items[3]", "message": "An order that is Cancelled cannot be shipped."}]
    assert extra["errors"] == [{"field": "items[4].weight", "message": "unknown field"}]
    order.refresh_from_db()
    assert (order.status, order.tracking_no, order.carrier) == (OrderStatus.SHIPPED, "SF100", carrier)
    assert Shipment.objects.filter(order=order).count() == 1
    assert AuditEntry.objects.filter(entity="order", entity_id=order.pk, field="status",
                                     source=AuditSource.API).exists()


def test_repeating_the_same_logistics_is_ok_and_unchanged(erp, order, carrier):
    item = {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF100"}
    erp.items("orders/logistics", item)

    _status, answer = erp.items("orders/logistics", item)

    assert answer["results"][0] == {"index": 0, "key": order.order_no, "status": "ok", "changed": False,
                                         "order_status": "shipped"}
    assert Shipment.objects.filter(order=order).count() == 1


def test_logistics_needs_the_source_when_two_orders_share_the_number(erp, merchant_a, carrier):
    OrderFactory(merchant=merchant_a, order_no="SAME", source=OrderSource.STOREFRONT)
    market = OrderFactory(merchant=merchant_a, order_no="SAME", source=OrderSource.MARKETPLACE)

    _status, first = erp.items("orders/logistics", {"order_no": "SAME", "carrier_code": "SF", "tracking_no": "T1"})
    _status, second = erp.items("orders/logistics", {"order_no": "SAME", "source": "marketplace",
                                                     "carrier_code": "SF", "tracking_no": "T1"})

    assert first["results"][0]["errors"][0]["field"] == "items[0].source"
    assert second["results"][0]["status"] == "ok"
    market.refresh_from_db()
    assert market.status == OrderStatus.SHIPPED


def test_another_merchants_order_is_unknown_and_untouched(erp, outsider_order, carrier):
    _status, answer = erp.items("orders/logistics", {"order_no": outsider_order.order_no, "carrier_code": "SF",
                                                     "tracking_no": "X1"})
    _status, statuses = erp.items("orders/erp-status", {"order_no": outsider_order.order_no, "status": "picking"})

    assert answer["results"][0]["errors"] == [{"field": "items[0].order_no", "message": "no order with this number"}]
    assert statuses["results"][0]["errors"][0]["field"] == "items[0].order_no"
    outsider_order.refresh_from_db()
    assert (outsider_order.status, outsider_order.erp_status) == (OrderStatus.AWAITING_SHIPMENT, "")
    assert not Shipment.objects.exists() and not TrackingEntry.objects.exists()


def test_a_write_repeated_with_its_idempotency_key_applies_once(erp, order, carrier):
    body = {"items": [{"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF100"}]}

    first = erp.post("orders/logistics", body, headers={"Idempotency-Key": "ship-1"})
    again = erp.post("orders/logistics", body, headers={"Idempotency-Key": "ship-1"})

    assert first.status_code == again.status_code == 200
    assert json.loads(first.content) == json.loads(again.content)
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content)["results"][0]["changed"] is True  # the first answer, replayed
    assert Shipment.objects.filter(order=order).count() == 1
    assert IdempotencyRecord.objects.filter(key="ship-1").count() == 1


def test_a_request_refused_as_a_whole_writes_nothing(erp, order, carrier, settings):
    settings.API_MAX_ITEMS = 2
    item = {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF100"}

    too_many = erp.items("orders/logistics", item, item, item)
    malformed = erp.post("orders/logistics", raw=b'{"items": [')

    assert too_many[0] == 413 and malformed.status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_SHIPMENT


# Shipments -------------------------------------------------------------------------------------------------

def test_partial_shipment_by_line_number_and_erp_product_id_records_batches(erp, order, carrier):
    first, second = order.items.order_by("line_no")

    status, answer = erp.items("orders/shipments", {
        "order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF200",
        "lines": [
            {"line_no": 1, "quantity": 1, "batch_no": "B1", "production_date": "2026-01-01",
             "expiry_date": "2028-01-01"},
            {"line_no": 1, "quantity": 1, "batch_no": "B2"},
            {"erp_product_id": second.erp_product_id, "quantity": 2},
        ],
    })

    assert status == 200
    assert answer["results"][0] == {"index": 0, "key": order.order_no, "status": "ok", "changed": True,
                                    "order_status": "partially_shipped"}
    rows = ShipmentItem.objects.filter(shipment__order=order).order_by("pk")
    assert [(r.order_item_id, r.quantity, r.batch_no) for r in rows] == [
        (first.pk, 1, "B1"), (first.pk, 1, "B2"), (second.pk, 2, "")]
    assert rows[0].expiry_date == date(2028, 1, 1)
    first.refresh_from_db()
    assert first.batch_no == "B1,B2"


def test_a_later_shipment_without_carrier_goes_with_the_orders_last_one(erp, order, carrier):
    erp.items("orders/shipments", {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF1",
                                   "lines": [{"line_no": 1, "quantity": 3}]})

    _status, answer = erp.items("orders/shipments", {"order_no": order.order_no,
                                                     "lines": [{"line_no": 2, "quantity": 2}]})

    assert answer["results"][0]["order_status"] == "shipped"
    assert list(Shipment.objects.filter(order=order).values_list("tracking_no", flat=True)) == ["SF1", "SF1"]


def test_shipment_errors_name_the_nested_field(erp, order, carrier):
    status, answer = erp.items(
        "orders/shipments",
        {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "T", "lines": [
            {"line_no": 1, "quantity": 2}, {"line_no": 1, "quantity": 2}]},
        {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "T", "lines": [
            {"line_no": 9, "quantity": 1}, {"erp_product_id": "NOPE", "quantity": 1},
            {"line_no": 2, "quantity": 0}, {"line_no": 2, "quantity": 1, "production_date": "2026-05-01",
                                            "expiry_date": "2026-01-01"},
            {"quantity": 1}, "line"]},
        {"order_no": order.order_no, "lines": [{"line_no": 1, "quantity": 1}]},
        {"order_no": order.order_no, "carrier_code": "SF", "lines": [{"line_no": 1, "quantity": 1}]},
        {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "T", "lines": []},
    )

    assert status == 200
    assert answer["counts"] == {"ok": 0, "held": 0, "invalid": 5}
    fields = [[e["field"] for e in r["errors"]] for r in answer["results"]]
    assert fields[0] == ["items[0].lines[1].quantity"]
    assert "3 not yet shipped" in answer["results"][0]["errors"][0]["message"]
    assert fields[1] == ["items[1].lines[2].quantity", "items[1].lines[3].expiry_date", "items[1].lines[4].line_no",
                         "items[1].lines[5]"]
    assert fields[2] == ["items[2].carrier_code"]  # no earlier shipment to go with
    assert fields[3] == ["items[3].tracking_no"]
    assert fields[4] == ["items[4].lines"]
    assert not Shipment.objects.exists()


def test_shipment_lines_that_do_not_resolve_name_their_field(erp, order, carrier):
    _status, answer = erp.items("orders/shipments", {
        "order_no": order.order_no, "carrier_code": "SF", "tracking_no": "T", "lines": [
            {"line_no": 9, "quantity": 1}, {"erp_product_id": "NOPE", "quantity": 1},
            {"line_no": 1, "erp_product_id": "OTHER", "quantity": 1}]})

    assert [e["field"] for e in answer["results"][0]["errors"]] == [
        "items[0].lines[0].line_no", "items[0].lines[1].erp_product_id", "items[0].lines[2].erp_product_id"]
    assert not Shipment.objects.exists()


def test_an_invalid_item_changes_nothing_while_the_others_apply(erp, order, merchant_a, carrier):
    other = OrderFactory(merchant=merchant_a, items=1)

    def shipment(order_no, tracking_no):
        return {"order_no": order_no, "carrier_code": "SF", "tracking_no": tracking_no,
                "lines": [{"line_no": 1, "quantity": 2}]}

    # Each is valid alone; line 1 of `order` has 3 to ship, so after the first of its two only 1 is left.
    _status, answer = erp.items("orders/shipments", shipment(other.order_no, "T1"), shipment(order.order_no, "T2"),
                                shipment(order.order_no, "T3"))

    assert [r["status"] for r in answer["results"]] == ["ok", "ok", "invalid"]
    assert answer["results"][2]["errors"][0]["field"] == "items[2].lines[0].quantity"
    assert sorted(Shipment.objects.values_list("tracking_no", flat=True)) == ["T1", "T2"]


def test_shipped_at_in_the_future_is_refused(erp, order, carrier):
    later = (timezone.now() + timedelta(days=1)).isoformat()

    _status, answer = erp.items("orders/shipments", {"order_no": order.order_no, "carrier_code": "SF",
                                                     "tracking_no": "T", "shipped_at": later,
                                                     "lines": [{"line_no": 1, "quantity": 1}]})

    assert answer["results"][0]["errors"] == [{"field": "items[0].shipped_at", "message": "is in the future"}]


# ERP statuses ----------------------------------------------------------------------------------------------

def test_erp_statuses_add_tracking_entries_and_signed_completes(erp, order, carrier):
    erp.items("orders/logistics", {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "SF1"})
    at = "2026-03-01T10:00:00+08:00"

    status, answer = erp.items(
        "orders/erp-status",
        {"order_no": order.order_no, "status": "picking", "at": at},
        {"order_no": order.order_no, "status": "delivering", "note": "With the courier"},
        {"order_no": order.order_no, "status": "picking"},
        {"order_no": order.order_no, "status": "signed"},
        {"order_no": order.order_no, "status": "lost"},
    )

    assert status == 200
    assert [r["status"] for r in answer["results"]] == ["ok", "ok", "invalid", "ok", "invalid"]
    assert answer["results"][2]["errors"][0]["field"] == "items[2].status"
    assert "only move forward" in answer["results"][2]["errors"][0]["message"]
    assert answer["results"][3]["order_status"] == "completed"
    assert answer["results"][4]["errors"][0]["field"] == "items[4].status"
    entries = list(TrackingEntry.objects.filter(order=order).order_by("pk"))
    assert [e.erp_status for e in entries] == [ErpStatus.PICKING, ErpStatus.DELIVERING, ErpStatus.SIGNED]
    assert entries[0].message == "Order processed, merchant picking"
    assert timezone.localtime(entries[0].at).isoformat() == at
    assert entries[1].message == "With the courier"
    order.refresh_from_db()
    assert (order.status, order.erp_status) == (OrderStatus.COMPLETED, ErpStatus.SIGNED)


def test_signed_before_shipping_and_repeats_are_answered(erp, order):
    _status, answer = erp.items(
        "orders/erp-status",
        {"order_no": order.order_no, "status": "signed"},
        {"order_no": order.order_no, "status": "submitted"},
        {"order_no": order.order_no, "status": "submitted"},
        {"order_no": order.order_no, "status": "picking", "at": "2026-03-01T10:00:00"},
    )

    assert answer["results"][0]["errors"][0]["field"] == "items[0].status"
    assert [r.get("changed") for r in answer["results"][1:3]] == [True, False]
    assert answer["results"][3]["errors"][0]["field"] == "items[3].at"
    assert TrackingEntry.objects.filter(order=order).count() == 1


def test_erp_statuses_apply_while_the_fulfilment_switch_is_off(erp, order, merchant_a):
    ModuleSwitchFactory(merchant=merchant_a, module=Module.FULFILMENT, enabled=False)

    _status, answer = erp.items("orders/erp-status", {"order_no": order.order_no, "status": "picking"})

    assert answer["results"][0]["status"] == "ok"
    order.refresh_from_db()
    assert order.erp_status == ErpStatus.PICKING


# The schemas -----------------------------------------------------------------------------------------------

def test_the_schemas_name_every_field_the_views_answer(erp, order, carrier):
    _paths, schemas = openapi_paths()
    erp.items("orders/shipments", {"order_no": order.order_no, "carrier_code": "SF", "tracking_no": "T",
                                   "lines": [{"line_no": 1, "quantity": 1, "batch_no": "B"}]})

    got = _orders(erp)[1]["orders"][0]

    def keys(schema, value):
        assert set(value) == set(schema["properties"]), (set(value) ^ set(schema["properties"]))
        for name, inner in schema["properties"].items():
            if inner.get("type") == "object" and value[name] is not None:
                keys(inner, value[name])
    keys(schemas["Order"], got)
    keys(schemas["Order"]["properties"]["items"]["items"], got["items"][0])
    keys(schemas["Order"]["properties"]["items"]["items"]["properties"]["shipments"]["items"],
         got["items"][0]["shipments"][0])
