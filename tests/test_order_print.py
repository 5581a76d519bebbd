"""Printing a selection of orders: FEFO batch choice, the pick list, delivery notes, and who may print what."""
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from merchant.models import OrderStatus, RefundStatus
from merchant.picking import BatchStock, FefoPool, fefo_allocate
from merchant.services.orders import ShipmentLine, order_shipment_add
from merchant.views.order_selection import selected_order_ids, selected_orders, selection_is_capped

from .factories import BatchFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.usefixtures("english_pages")

TODAY = date(2025, 6, 1)
NOTES = "order_print_delivery_notes"
PICK = "order_print_pick_list"


def batch(no, expires, quantity):
    return BatchStock(batch_no=no, expiry_date=expires, quantity=quantity)


# --- FEFO (pure) ----------------------------------------------------------------------------------------------------


def test_fefo_takes_the_batch_that_expires_first():
    batches = [batch("LATE", date(2026, 1, 1), 10), batch("EARLY", date(2025, 7, 1), 10),
               batch("MIDDLE", date(2025, 9, 1), 10)]
    [only] = fefo_allocate(4, batches, TODAY)
    assert (only.batch_no, only.expiry_date, only.quantity, only.shortage) == ("EARLY", date(2025, 7, 1), 4, False)


def test_fefo_skips_expired_and_empty_batches_but_takes_one_expiring_today():
    batches = [batch("EXPIRED", TODAY - timedelta(days=1), 50), batch("EMPTY", date(2025, 6, 10), 0),
               batch("TODAY", TODAY, 1), batch("NEXT", date(2025, 8, 1), 9)]
    assert [(a.batch_no, a.quantity) for a in fefo_allocate(3, batches, TODAY)] == [("TODAY", 1), ("NEXT", 2)]


def test_fefo_splits_over_several_batches_when_one_is_not_enough():
    batches = [batch("B2", date(2025, 8, 1), 3), batch("B1", date(2025, 7, 1), 2), batch("B3", date(2025, 9, 1), 9)]
    assert [(a.batch_no, a.quantity) for a in fefo_allocate(7, batches, TODAY)] == [("B1", 2), ("B2", 3), ("B3", 2)]


def test_fefo_shows_a_shortage_for_what_the_batches_cannot_cover():
    allocations = fefo_allocate(8, [batch("B1", date(2025, 7, 1), 5), batch("OLD", date(2025, 5, 1), 10)], TODAY)
    assert [(a.batch_no, a.quantity, a.shortage) for a in allocations] == [("B1", 5, False), ("", 3, True)]
    assert fefo_allocate(2, [], TODAY)[0].shortage


def test_a_batch_taken_by_one_line_is_not_offered_to_the_next():
    pool = FefoPool({1: [batch("B1", date(2025, 7, 1), 3), batch("B2", date(2025, 8, 1), 5)]}, TODAY)
    assert [(a.batch_no, a.quantity) for a in pool.take(1, 2)] == [("B1", 2)]
    assert [(a.batch_no, a.quantity) for a in pool.take(1, 2)] == [("B1", 1), ("B2", 1)]
    assert [(a.batch_no, a.quantity, a.shortage) for a in pool.take(1, 6)] == [("B2", 4, False), ("", 2, True)]


# --- pick list --------------------------------------------------------------------------------------------------------


def _product(merchant, erp_id, *batches, **fields):
    product = ProductFactory(merchant=merchant, erp_product_id=erp_id, batch_managed=bool(batches), **fields)
    for no, days, quantity in batches:
        BatchFactory(product=product, batch_no=no, expiry_date=timezone.localdate() + timedelta(days=days),
                     quantity=quantity)
    return product


def _order(merchant, no, *lines, minutes_ago=60, **fields):
    """An order awaiting shipment, paid minutes_ago; lines are (product, quantity)."""
    paid = timezone.now() - timedelta(minutes=minutes_ago)
    fields = {"created_at": paid - timedelta(minutes=1), "paid_at": paid, **fields}
    return OrderFactory(merchant=merchant, order_no=no,
                        items=[{"product": p, "quantity": q} if p else {"erp_product_id": "GONE-1",
                                                                           "item_name": "Withdrawn syrup",
                                                                           "quantity": q} for p, q in lines],
                        **fields)


def _pick(client, *orders):
    response = client.get(reverse(PICK), {"id": [o.pk for o in orders]})
    assert response.status_code == 200
    return response.context["selection"].pick_list


def _rows(pick_list):
    return [(ln.erp_product_id, ln.batch_no, ln.quantity, ln.shortage, ln.orders) for ln in pick_list.lines]


def test_pick_list_sums_lines_by_product_and_batch_across_orders(client_viewer, merchant_a):
    amox = _product(merchant_a, "P-200", ("A-LATE", 300, 50), ("A-EARLY", 30, 4))
    ibu = _product(merchant_a, "P-100", ("I-1", 90, 100))
    first = _order(merchant_a, "SO-1", (amox, 3), (ibu, 2), minutes_ago=90)
    second = _order(merchant_a, "SO-2", (amox, 2), (ibu, 5), minutes_ago=30)
    pick_list = _pick(client_viewer, second, first)
    # Sorted by ERP product id; the order paid first gets the batch that expires first.
    assert _rows(pick_list) == [
        ("P-100", "I-1", 7, False, [("SO-1", 2), ("SO-2", 5)]),
        ("P-200", "A-EARLY", 4, False, [("SO-1", 3), ("SO-2", 1)]),
        ("P-200", "A-LATE", 1, False, [("SO-2", 1)]),
    ]
    assert (pick_list.pick_quantity, pick_list.product_count, pick_list.order_count) == (12, 2, 2)


def test_pick_list_page_shows_lines_shortage_and_totals(client_viewer, merchant_a):
    product = _product(merchant_a, "P-1", ("B-OK", 60, 2), ("B-EXPIRED", -1, 99), name="Amoxicillin", spec="0.25g*24",
                       unit="box")
    order = _order(merchant_a, "SO-77", (product, 5))
    response = client_viewer.get(reverse(PICK), {"id": order.pk})
    assert _rows(response.context["selection"].pick_list) == [
        ("P-1", "B-OK", 2, False, [("SO-77", 2)]), ("P-1", "", 3, True, [("SO-77", 3)])]
    html = response.content.decode()
    for text in ("Pick list", "Amoxicillin", "0.25g*24", "box", "B-OK", "Shortage", "SO-77 ×2", "Total to pick"):
        assert text in html
    assert "B-EXPIRED" not in html
    assert 'id="pick-shortage"' in html


def test_pick_list_lists_unknown_products_apart_with_their_orders(client_viewer, merchant_a, product):
    first = _order(merchant_a, "SO-U1", (None, 2), (product, 1))
    second = _order(merchant_a, "SO-U2", (None, 3))
    response = client_viewer.get(reverse(PICK), {"id": [first.pk, second.pk]})
    pick_list = response.context["selection"].pick_list
    assert [(u.erp_product_id, u.name, u.quantity, u.orders) for u in pick_list.unknown] == [
        ("GONE-1", "Withdrawn syrup", 5, [("SO-U1", 2), ("SO-U2", 3)])]
    assert [ln.erp_product_id for ln in pick_list.lines] == [product.erp_product_id]
    assert pick_list.unknown_quantity == 5
    assert 'id="unknown-lines"' in response.content.decode()


def test_shipped_lines_are_not_picked_again_and_partial_orders_pick_only_what_is_left(
        client_viewer, merchant_a, carrier, operator_actor):
    product = _product(merchant_a, "P-1", ("B1", 60, 100))
    other = _product(merchant_a, "P-2", ("C1", 60, 100))
    partial = _order(merchant_a, "SO-PART", (product, 5), (other, 2))
    items = {i.product_id: i for i in partial.items.all()}
    order_shipment_add(order=partial, carrier=carrier, tracking_no="T1", actor=operator_actor, lines=[
        ShipmentLine(order_item=items[product.pk], quantity=3, batch_no="B1"),
        ShipmentLine(order_item=items[other.pk], quantity=2, batch_no="C1")])
    shipped = _order(merchant_a, "SO-DONE", (product, 4))
    order_shipment_add(order=shipped, carrier=carrier, tracking_no="T2", actor=operator_actor,
                       lines=[ShipmentLine(order_item=shipped.items.get(), quantity=4, batch_no="B1")])
    response = client_viewer.get(reverse(PICK), {"id": [partial.pk, shipped.pk]})
    assert _rows(response.context["selection"].pick_list) == [("P-1", "B1", 2, False, [("SO-PART", 2)])]
    assert [o.order_no for o in response.context["selection"].unpicked_orders] == ["SO-DONE"]
    assert "SO-DONE (Shipped)" in response.content.decode()


def test_orders_not_awaiting_shipment_and_refunded_lines_are_not_picked(client_viewer, merchant_a):
    product = _product(merchant_a, "P-1", ("B1", 60, 100))
    unpaid = _order(merchant_a, "SO-UNPAID", (product, 1), status=OrderStatus.PENDING_PAYMENT)
    cancelled = _order(merchant_a, "SO-CANCELLED", (product, 1), status=OrderStatus.CANCELLED)
    refunded = _order(merchant_a, "SO-REFUND", (product, 2), (product, 3))
    refunded.items.filter(line_no=1).update(refund_status=RefundStatus.REFUNDED)
    pick_list = _pick(client_viewer, unpaid, cancelled, refunded)
    assert _rows(pick_list) == [("P-1", "B1", 3, False, [("SO-REFUND", 3)])]


def test_a_product_without_batch_records_is_picked_from_its_stock(client_viewer, merchant_a):
    product = _product(merchant_a, "P-PLAIN", stock=4)
    order = _order(merchant_a, "SO-PLAIN", (product, 6))
    assert _rows(_pick(client_viewer, order)) == [
        ("P-PLAIN", "", 4, False, [("SO-PLAIN", 4)]), ("P-PLAIN", "", 2, True, [("SO-PLAIN", 2)])]


def test_nothing_left_to_pick_says_so(client_viewer, merchant_a, product):
    order = _order(merchant_a, "SO-C", (product, 1), status=OrderStatus.COMPLETED)
    response = client_viewer.get(reverse(PICK), {"id": order.pk})
    assert 'id="nothing-to-pick"' in response.content.decode()


def test_printing_reads_a_fixed_number_of_queries_whatever_the_number_of_orders(client_viewer, merchant_a,
                                                                                carrier, operator_actor):
    def queries_for(n):
        orders = []
        for i in range(n):
            product = _product(merchant_a, f"Q{n}-{i}", (f"Q{n}-{i}-B", 60, 5))
            order = _order(merchant_a, f"SO-Q{n}-{i}", (product, 2), (None, 1))
            order_shipment_add(order=order, carrier=carrier, tracking_no=f"T{n}{i}", actor=operator_actor,
                               lines=[ShipmentLine(order_item=order.items.get(line_no=1), quantity=1, batch_no="X")])
            orders.append(order)
        counts = []
        for name in (PICK, NOTES):
            with CaptureQueriesContext(connection) as ctx:
                assert client_viewer.get(reverse(name), {"id": [o.pk for o in orders]}).status_code == 200
            counts.append(len(ctx.captured_queries))
        return counts

    assert queries_for(2) == queries_for(12)


# --- delivery notes ---------------------------------------------------------------------------------------------------


def test_delivery_note_holds_the_order_its_batches_invoice_and_a_qr_code(client_viewer, merchant_a, customer,
                                                                         carrier, operator_actor):
    product = _product(merchant_a, "P-1", ("NEXT-B", 200, 10), ("SOON-B", 20, 1), name="Ibuprofen", unit="box")
    order = _order(merchant_a, "SO-NOTE-1", (product, 4), (None, 1), customer=customer, buyer_nick="alpha_buyer",
                   receiver_name="Wang Wu", receiver_phone="13900000000", receiver_district="天河区",
                   receiver_address="88 Tiyu Road", shipping_fee=Decimal("8.00"), discount_amount=Decimal("3.00"),
                   invoice_type="VAT special", invoice_title="Alpha Pharmacy Ltd", invoice_tax_no="91350100MA2XYZ1234",
                   created_at=datetime(2025, 1, 1, 16, 30, tzinfo=ZoneInfo("UTC")),
                   paid_at=datetime(2025, 1, 1, 16, 45, tzinfo=ZoneInfo("UTC")))
    expiry = timezone.localdate() + timedelta(days=400)
    order_shipment_add(order=order, carrier=carrier, tracking_no="SF123", actor=operator_actor, lines=[
        ShipmentLine(order_item=order.items.get(line_no=1), quantity=1, batch_no="SHIP-B",
                     production_date=timezone.localdate() - timedelta(days=10), expiry_date=expiry)])
    response = client_viewer.get(reverse(NOTES), {"id": order.pk})
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Delivery note", merchant_a.name, "SO-NOTE-1", "Alpha Pharmacy (alpha_buyer)", "Wang Wu",
                 "13900000000", "广东 广州 天河区 88 Tiyu Road", "Ibuprofen", "Withdrawn syrup",
                 "Alpha Pharmacy Ltd", "91350100MA2XYZ1234", "VAT special", "¥8.00", "¥3.00", "SF Express SF123",
                 # Shanghai time: 16:30 UTC is half past midnight the next day.
                 "2025-01-02 00:30:00", "2025-01-02 00:45:00"):
        assert text in html, text
    # Shipped part from the shipment row; the 3 left, first to expire first.
    assert f"SHIP-B · expires {expiry:%Y-%m-%d} × 1" in html
    soon = timezone.localdate() + timedelta(days=20)
    later = timezone.localdate() + timedelta(days=200)
    assert f"SOON-B · expires {soon:%Y-%m-%d} × 1" in html
    assert f"NEXT-B · expires {later:%Y-%m-%d} × 2" in html
    assert '<svg viewBox="0 0 ' in html and 'class="order-qr"' in html
    assert "style=" not in html.split('class="order-code"', 1)[1].split("</span>", 1)[0]


def test_delivery_notes_and_pick_list_suggest_the_same_batches(client_viewer, merchant_a):
    product = _product(merchant_a, "P-1", ("B1", 30, 2), ("B2", 60, 10))
    first = _order(merchant_a, "SO-A", (product, 2), minutes_ago=90)
    second = _order(merchant_a, "SO-B", (product, 3), minutes_ago=10)
    notes = client_viewer.get(reverse(NOTES), {"id": [second.pk, first.pk]}).context["selection"].notes
    suggested = {n.order.order_no: [(a.batch_no, a.quantity) for a in n.lines[0].suggested] for n in notes}
    assert suggested == {"SO-A": [("B1", 2)], "SO-B": [("B2", 3)]}
    assert _rows(_pick(client_viewer, first, second)) == [
        ("P-1", "B1", 2, False, [("SO-A", 2)]), ("P-1", "B2", 3, False, [("SO-B", 3)])]


def test_delivery_notes_come_one_per_page_in_the_order_selected(client_viewer, merchant_a, product):
    orders = [_order(merchant_a, f"SO-{i}", (product, 1)) for i in range(3)]
    picked = [orders[2], orders[0], orders[1]]
    response = client_viewer.get(reverse(NOTES), {"id": [o.pk for o in picked]})
    html = response.content.decode()
    assert [n.order.order_no for n in response.context["selection"].notes] == ["SO-2", "SO-0", "SO-1"]
    assert html.count('class="print-sheet delivery-note"') == 3
    assert html.index('id="note-%d"' % orders[2].pk) < html.index('id="note-%d"' % orders[0].pk)
    assert 'data-print' in html and "js/print.js" in html


def test_order_page_links_to_its_delivery_note(client_viewer, order):
    html = client_viewer.get(reverse("order_detail", args=[order.pk])).content.decode()
    assert f'{reverse(NOTES)}?id={order.pk}' in html
    response = client_viewer.get(f"{reverse(NOTES)}?id={order.pk}")
    # The back link of one order's note goes to its page.
    assert response.context["back_url"] == order.get_absolute_url()


# --- who may print, which orders, how they are sent ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator", "owner"])
@pytest.mark.parametrize("name", [NOTES, PICK])
def test_every_role_that_can_view_can_print(request, role, name, order):
    client = request.getfixturevalue(f"client_{role}")
    response = client.get(reverse(name), {"id": order.pk})
    assert response.status_code == 200
    assert order.order_no in response.content.decode()


@pytest.mark.parametrize("name", [NOTES, PICK])
def test_another_merchants_order_ids_are_left_out(client_viewer, name, order, outsider_order):
    response = client_viewer.get(reverse(name), {"id": [outsider_order.pk, order.pk]})
    assert [o.pk for o in response.context["selection"].orders] == [order.pk]
    assert outsider_order.order_no not in response.content.decode()
    # Only another merchant's ids: the same page as no selection at all.
    response = client_viewer.get(reverse(name), {"id": outsider_order.pk})
    assert 'id="print-empty"' in response.content.decode()


@pytest.mark.parametrize("name", [NOTES, PICK])
def test_a_selection_can_be_posted_with_a_csrf_token(viewer, name, order):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    assert client.post(reverse(name), {"id": [order.pk]}).status_code == 403
    client.get(reverse("order_detail", args=[order.pk]))
    token = client.cookies["csrftoken"].value
    response = client.post(reverse(name), {"id": [order.pk], "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert order.order_no in response.content.decode()


@pytest.mark.parametrize("name", [NOTES, PICK])
def test_an_empty_selection_asks_to_select_orders_first(client_viewer, name):
    for params in ({}, {"id": ["", "abc", "-3"]}):
        response = client_viewer.get(reverse(name), params)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Select orders on the orders list first" in html
        assert reverse("order_list") in html


def test_selection_reads_distinct_integer_ids_and_ignores_junk(rf_user):
    request = rf_user(get={"id": ["3", " 5 ", "3", "x", "-1", "0", "2.5", "١٢", "99999999999999999999", "7"]})
    assert selected_order_ids(request) == [3, 5, 7]
    request = rf_user(method="post", get={"id": ["1"]}, post={"id": ["2", "1", "junk"]})
    assert selected_order_ids(request) == [1, 2]


def test_selection_is_capped_at_the_setting(rf_user, settings):
    settings.ORDER_SELECTION_MAX = 3
    request = rf_user(get={"id": [str(i) for i in range(1, 10)]})
    assert selected_order_ids(request) == [1, 2, 3]
    assert selection_is_capped(request)
    assert not selection_is_capped(rf_user(get={"id": ["1", "2", "3"]}))


def test_selected_orders_are_the_merchants_own(rf_user, merchant_a, order, outsider_order):
    request = rf_user(get={"id": [str(order.pk), str(outsider_order.pk)]})
    request.merchant = merchant_a
    assert list(selected_orders(request)) == [order]


def test_a_capped_selection_says_so(client_viewer, settings, merchant_a, product):
    settings.ORDER_SELECTION_MAX = 1
    orders = [_order(merchant_a, f"SO-{i}", (product, 1)) for i in range(2)]
    response = client_viewer.get(reverse(PICK), {"id": [o.pk for o in orders]})
    assert len(response.context["selection"].orders) == 1
    assert "only the first 1 are shown" in response.content.decode()


def test_back_link_takes_only_a_path_on_this_site(client_viewer, order):
    url = reverse(PICK)
    assert client_viewer.get(url, {"id": order.pk, "next": "/orders/?status=shipped"}).context["back_url"] == \
        "/orders/?status=shipped"
    for hostile in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        assert client_viewer.get(url, {"id": order.pk, "next": hostile}).context["back_url"] == order.get_absolute_url()


@pytest.fixture
def rf_user():
    factory = RequestFactory()

    def make(method="get", get=None, post=None):
        path = "/orders/print/pick-list/?" + urlencode(get or {}, doseq=True)
        return factory.post(path, post or {}) if method == "post" else factory.get(path)

    return make


def test_delivery_note_of_a_product_without_batches_shows_its_stock_only_beside_a_shortage(client_viewer, merchant_a):
    covered = _product(merchant_a, "P-OK", stock=50)
    short = _product(merchant_a, "P-SHORT", stock=2)
    order = _order(merchant_a, "SO-STOCK", (covered, 5), (short, 30))
    [note] = client_viewer.get(reverse(NOTES), {"id": order.pk}).context["selection"].notes
    parts = {line.item.erp_product_id: [(a.batch_no, a.quantity, a.shortage) for a in line.suggested_batches]
             for line in note.lines}
    assert parts == {"P-OK": [], "P-SHORT": [("", 2, False), ("", 28, True)]}


def test_all_orders_matching_the_lists_filters_can_be_printed(client_viewer, merchant_a, product, outsider_order):
    awaiting = [_order(merchant_a, f"SO-W{i}", (product, 1)) for i in range(3)]
    _order(merchant_a, "SO-DONE", (product, 1), status=OrderStatus.COMPLETED)
    # What the orders list posts after "select all matching": its filters, scope=all, the page's ticks, next.
    response = client_viewer.post(reverse(PICK), {"scope": "all", "status": "awaiting_shipment",
                                                  "id": [awaiting[0].pk], "next": "/orders/?status=awaiting_shipment"})
    assert sorted(o.order_no for o in response.context["selection"].orders) == ["SO-W0", "SO-W1", "SO-W2"]
    assert response.context["back_url"] == "/orders/?status=awaiting_shipment"
    assert outsider_order.order_no not in response.content.decode()


def test_all_matching_past_the_cap_asks_to_narrow_the_filters(client_viewer, settings, merchant_a, product):
    settings.ORDER_SELECTION_MAX = 2
    for i in range(3):
        _order(merchant_a, f"SO-M{i}", (product, 1))
    response = client_viewer.post(reverse(NOTES), {"scope": "all"})
    assert response.status_code == 200
    assert "More than 2 orders match: narrow the filters" in response.content.decode()
