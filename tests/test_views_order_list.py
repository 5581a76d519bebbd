"""The orders list filters (SPEC M10) and the streamed export of exactly the filtered orders."""
import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.urls import reverse

from merchant.models import ErpStatus, OrderSource, OrderStatus
from merchant.spreadsheets.orders_export import KEYS

from .factories import CustomerFactory, OrderFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


pytestmark = pytest.mark.usefixtures("english_pages")

def at(day, hour=10, minute=0):
    return datetime(2024, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def orders(merchant_a):
    """Three orders of merchant A that differ in every filterable field."""
    c1 = CustomerFactory(name="First Pharmacy")
    c2 = CustomerFactory(name="Second Pharmacy")
    return {
        "ORD-0001": OrderFactory(
            merchant=merchant_a, order_no="ORD-0001", customer=c1, created_at=at(1), paid_at=at(1, 10, 5),
            status=OrderStatus.AWAITING_SHIPMENT, platform_status="WAIT_SELLER_SEND_GOODS", erp_status="",
            taken_by_erp=False, source=OrderSource.STOREFRONT,
            items=[{"item_name": "Item one-A"}, {"item_name": "Item one-B"}],
        ),
        "ORD-0002": OrderFactory(
            merchant=merchant_a, order_no="ORD-0002", customer=c2, created_at=at(5), paid_at=at(10),
            status=OrderStatus.SHIPPED, platform_status="WAIT_BUYER_CONFIRM_GOODS", erp_status=ErpStatus.PICKING,
            taken_by_erp=True, source=OrderSource.MARKETPLACE, items=[{"item_name": "Item two-A"}],
        ),
        "ORD-0003": OrderFactory(
            merchant=merchant_a, order_no="ORD-0003", customer=None, created_at=at(10), paid_at=None,
            status=OrderStatus.PENDING_PAYMENT, platform_status="WAIT_BUYER_PAY", erp_status="",
            taken_by_erp=False, source=OrderSource.STOREFRONT, items=[{"item_name": "Item three-A"}],
        ),
    }


FILTERS = [
    ({}, {"ORD-0001", "ORD-0002", "ORD-0003"}),
    ({"created_from": "2024-03-04T00:00:00+08:00"}, {"ORD-0002", "ORD-0003"}),
    ({"created_to": "2024-03-05T10:00:00+08:00"}, {"ORD-0001"}),  # "before": the bound itself is excluded
    ({"created_from": "2024-03-02T00:00:00+08:00", "created_to": "2024-03-06T00:00:00+08:00"}, {"ORD-0002"}),
    # What a browser's datetime-local input sends: a naive time, read in Asia/Shanghai.
    ({"created_from": "2024-03-05T10:00"}, {"ORD-0002", "ORD-0003"}),
    ({"created_from": "2024-03-05T10:01"}, {"ORD-0003"}),
    ({"paid_from": "2024-03-02T00:00:00+08:00"}, {"ORD-0002"}),  # an unpaid order has no paid time
    ({"paid_to": "2024-03-02T00:00:00+08:00"}, {"ORD-0001"}),
    ({"status": "shipped"}, {"ORD-0002"}),
    ({"status": "pending_payment"}, {"ORD-0003"}),
    ({"platform_status": "WAIT_BUYER_PAY"}, {"ORD-0003"}),
    ({"erp_status": "none"}, {"ORD-0001", "ORD-0003"}),
    ({"erp_status": "picking"}, {"ORD-0002"}),
    ({"erp_status": "signed"}, set()),
    ({"taken": "yes"}, {"ORD-0002"}),
    ({"taken": "no"}, {"ORD-0001", "ORD-0003"}),
    ({"order_no": "ORD-0002"}, {"ORD-0002"}),
    ({"order_no": "  ORD-0002 "}, {"ORD-0002"}),
    ({"order_no": "ORD-000"}, set()),  # exact, not a substring search
    ({"source": "marketplace"}, {"ORD-0002"}),
    ({"source": "storefront"}, {"ORD-0001", "ORD-0003"}),
    ({"status": "awaiting_shipment", "taken": "no", "source": "storefront"}, {"ORD-0001"}),
]


@pytest.mark.parametrize("params, expected", FILTERS)
def test_order_list_filters(client_viewer, orders, params, expected):
    response = client_viewer.get(reverse("order_list"), params)
    assert response.status_code == 200
    assert {o.order_no for o in response.context["page"].object_list} == expected
    content = response.content.decode()
    for order_no in orders:
        assert (order_no in content) == (order_no in expected), order_no


def test_order_list_filters_by_customer(client_operator, orders):
    customer = orders["ORD-0001"].customer
    response = client_operator.get(reverse("order_list"), {"customer": customer.name})
    assert [o.order_no for o in response.context["page"].object_list] == ["ORD-0001"]


def test_order_list_is_newest_first(client_owner, orders):
    response = client_owner.get(reverse("order_list"))
    assert [o.order_no for o in response.context["page"].object_list] == ["ORD-0003", "ORD-0002", "ORD-0001"]


def test_order_list_shows_the_error_of_an_invalid_filter(client_owner, orders):
    response = client_owner.get(reverse("order_list"), {"created_from": "yesterday-ish"})
    assert response.status_code == 200
    assert response.context["filter"].errors["created_from"]


def test_order_list_is_paginated(client_viewer, merchant_a):
    for _ in range(45):
        OrderFactory(merchant=merchant_a, items=0)
    response = client_viewer.get(reverse("order_list"), {"taken": "no", "size": 20, "page": 3})
    page = response.context["page"]
    assert page.number == 3 and len(page.object_list) == 5 and page.paginator.count == 45
    # The pager keeps the filters and the page size in its links.
    content = response.content.decode()
    assert "?taken=no&amp;size=20&page=2" in content


# --- export -------------------------------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == KEYS
    return [dict(zip(KEYS, row)) for row in rows[1:]]


def read_xlsx(response) -> list[dict]:
    assert response.streaming
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "Order number"
    return [dict(zip(KEYS, row)) for row in rows[1:]]


@pytest.mark.parametrize("params, expected", FILTERS)
def test_csv_export_holds_one_row_per_item_of_exactly_the_filtered_orders(client_viewer, orders, params, expected):
    response = client_viewer.get(reverse("order_export"), {**params, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="orders-merchant-a-')
    rows = read_csv(response)
    expected_items = sorted((no, i.item_name) for no in expected for i in orders[no].items.all())
    assert sorted((r["order_no"], r["item_name"]) for r in rows) == expected_items


@pytest.mark.parametrize("params, expected", [f for f in FILTERS if f[0].keys() & {"created_from", "status", "taken"}])
def test_xlsx_export_holds_one_row_per_item_of_exactly_the_filtered_orders(client_operator, orders, params, expected):
    response = client_operator.get(reverse("order_export"), {**params, "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = read_xlsx(response)
    expected_items = sorted((no, i.item_name) for no in expected for i in orders[no].items.all())
    assert sorted((r["order_no"], r["item_name"]) for r in rows) == expected_items


def test_export_by_customer_filter(client_owner, orders):
    customer = orders["ORD-0002"].customer
    rows = read_csv(client_owner.get(reverse("order_export"), {"customer": customer.uscc, "format": "csv"}))
    assert {r["order_no"] for r in rows} == {"ORD-0002"}


def test_xlsx_export_shows_labels_and_shanghai_times(client_owner, orders):
    rows = read_xlsx(client_owner.get(reverse("order_export"), {"order_no": "ORD-0002", "format": "xlsx"}))
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "Shipped"
    assert row["source"] == "Marketplace"
    assert row["erp_status"] == "Picking"
    # Local wall time, not UTC (the cell's serial number is only precise to about 0.1 s).
    assert abs(row["created_at"] - datetime(2024, 3, 5, 10, 0)).total_seconds() < 1
    assert row["taken_by_erp"] is True
    assert float(row["amount"]) == 25.0


def test_csv_export_keeps_raw_codes_and_iso_times_in_shanghai(client_owner, orders):
    rows = read_csv(client_owner.get(reverse("order_export"), {"order_no": "ORD-0002", "format": "csv"}))
    assert rows[0]["status"] == "shipped"
    assert rows[0]["created_at"] == "2024-03-05T10:00:00+08:00"


def test_export_neutralises_formula_cells(client_owner, merchant_a):
    OrderFactory(merchant=merchant_a, order_no="ORD-EVIL", items=[{"item_name": '=HYPERLINK("http://x","y")'}])
    csv_rows = read_csv(client_owner.get(reverse("order_export"), {"format": "csv"}))
    assert csv_rows[0]["item_name"] == '\'=HYPERLINK("http://x","y")'
    xlsx_rows = read_xlsx(client_owner.get(reverse("order_export"), {"format": "xlsx"}))
    assert xlsx_rows[0]["item_name"] == '\'=HYPERLINK("http://x","y")'


def test_export_without_filters_holds_every_order(client_viewer, orders):
    rows = read_xlsx(client_viewer.get(reverse("order_export")))  # xlsx is the default format
    assert len(rows) == 4


def test_export_refuses_an_unknown_format(client_viewer, orders):
    assert client_viewer.get(reverse("order_export"), {"format": "pdf"}).status_code == 400


def test_export_refuses_an_invalid_filter_instead_of_exporting_everything(client_viewer, orders):
    response = client_viewer.get(reverse("order_export"), {"format": "csv", "paid_from": "not-a-date"})
    assert response.status_code == 400
    assert b"paid_from" in response.content


def test_the_csv_for_spreadsheets_is_a_csv_file_with_codes_kept_as_text(client_viewer, orders):
    response = client_viewer.get(reverse("order_export"), {"format": "csv-spreadsheet", "order_no": "ORD-0002"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].endswith('.csv"')
    rows = read_csv(response)
    assert {r["order_no"] for r in rows} == {"ORD-0002"}
    assert all(" " in r["created_at"] and "+08:00" not in r["created_at"] for r in rows)
