import csv
import io
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.utils import translation
from django.utils.translation import gettext

from merchant.models import Order, RefundStatus
from merchant.spreadsheets.orders_export import csv_chunks, xlsx_chunks
from merchant.spreadsheets.safety import neutralise

from .factories import OrderFactory

KEYS = ("order_no,source,status,platform_status,created_at,modified_at,paid_at,payment,erp_status,taken_by_erp,"
        "line_no,erp_product_id,item_name,quantity,unit_price,amount,refund_status,batch_no").split(",")
ENGLISH_HEADERS = [
    "Order number", "Source", "Status", "Platform status", "Created", "Modified", "Paid", "Payment method",
    "ERP status", "Taken by ERP", "Line", "ERP product id", "Item", "Quantity", "Unit price", "Amount",
    "Refund status", "Batch numbers",
]
SHANGHAI = ZoneInfo("Asia/Shanghai")
CREATED = datetime(2024, 3, 1, 2, 30, 15, tzinfo=dt_timezone.utc)  # 10:30:15 in Shanghai


def read_csv(orders):
    text = "".join(csv_chunks(orders))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def read_xlsx(orders, **kwargs):
    data = b"".join(xlsx_chunks(orders, **kwargs))
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    return sheet, [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def exported(merchant_a, product):
    """Two orders of merchant A (3 item rows) and one of merchant B that must not appear."""
    older = OrderFactory(
        merchant=merchant_a, order_no="A-001", created_at=CREATED, modified_at=CREATED + timedelta(hours=1),
        paid_at=CREATED + timedelta(minutes=5), payment="alipay", platform_status="WAIT_SELLER_SEND_GOODS",
        items=[
            {"product": product, "erp_product_id": "SKU-1", "item_name": "Aspirin", "quantity": 3,
             "unit_price": Decimal("12.50"), "amount": Decimal("37.50"), "batch_no": "L1,L2"},
            {"erp_product_id": "SKU-2", "item_name": "Ibuprofen", "quantity": 1, "unit_price": Decimal("8.00"),
             "amount": Decimal("8.00"), "refund_status": RefundStatus.REFUNDED},
        ],
    )
    newer = OrderFactory(
        merchant=merchant_a, order_no="A-002", created_at=CREATED + timedelta(days=1),
        modified_at=CREATED + timedelta(days=1), paid_at=None, status="pending_payment", source="marketplace",
        erp_status="picking", taken_by_erp=True,
        items=[{"erp_product_id": "SKU-3", "item_name": "Vitamin C", "quantity": 2, "unit_price": Decimal("5.25"),
                "amount": Decimal("10.50")}],
    )
    OrderFactory(order_no="B-001", items=1)  # another merchant
    return Order.objects.filter(merchant=merchant_a), older, newer


def test_csv_header_is_the_stable_keys_in_order(exported):
    orders, _older, _newer = exported

    rows = read_csv(orders)

    assert rows[0] == KEYS


def test_csv_has_one_row_per_item_with_raw_values(exported):
    orders, _older, _newer = exported

    rows = [dict(zip(KEYS, row)) for row in read_csv(orders)[1:]]

    assert [(r["order_no"], r["line_no"]) for r in rows] == [("A-002", "1"), ("A-001", "1"), ("A-001", "2")]
    newest, first, second = rows
    assert first == {
        "order_no": "A-001", "source": "storefront", "status": "awaiting_shipment",
        "platform_status": "WAIT_SELLER_SEND_GOODS", "created_at": "2024-03-01T10:30:15+08:00",
        "modified_at": "2024-03-01T11:30:15+08:00", "paid_at": "2024-03-01T10:35:15+08:00", "payment": "alipay",
        "erp_status": "", "taken_by_erp": "False", "line_no": "1", "erp_product_id": "SKU-1",
        "item_name": "Aspirin", "quantity": "3", "unit_price": "12.50", "amount": "37.50", "refund_status": "",
        "batch_no": "L1,L2",
    }
    assert second["refund_status"] == "refunded"
    assert (second["item_name"], second["amount"]) == ("Ibuprofen", "8.00")
    assert (newest["source"], newest["status"], newest["erp_status"]) == ("marketplace", "pending_payment",
                                                                         "picking")
    assert (newest["taken_by_erp"], newest["paid_at"]) == ("True", "")


def test_xlsx_has_translated_headers(exported):
    orders, _older, _newer = exported

    with translation.override("en"):
        sheet, rows = read_xlsx(orders)
    assert rows[0] == ENGLISH_HEADERS
    assert sheet.title == "Orders"

    with translation.override("zh-hans"):
        _sheet, rows = read_xlsx(orders)
        expected = [gettext(label) for label in ENGLISH_HEADERS]
    assert rows[0] == expected
    assert rows[0] != ENGLISH_HEADERS  # the Chinese catalog translates them
    assert rows[2][KEYS.index("status")] == "待发货"  # value labels follow the language too


def test_xlsx_has_one_row_per_item_with_typed_values(exported):
    orders, _older, _newer = exported

    with translation.override("en"):
        _sheet, rows = read_xlsx(orders)

    body = [dict(zip(KEYS, row)) for row in rows[1:]]
    assert [(r["order_no"], r["line_no"]) for r in body] == [("A-002", 1), ("A-001", 1), ("A-001", 2)]
    newest, first, second = body
    assert first["source"] == "Own storefront"
    assert first["status"] == "Awaiting shipment"
    assert first["platform_status"] == "WAIT_SELLER_SEND_GOODS"
    assert first["taken_by_erp"] is False and newest["taken_by_erp"] is True
    assert (first["erp_product_id"], first["item_name"], first["quantity"]) == ("SKU-1", "Aspirin", 3)
    assert (first["unit_price"], first["amount"]) == (12.5, 37.5)
    assert first["batch_no"] == "L1,L2"
    assert second["refund_status"] == "Refunded"
    assert newest["erp_status"] == "Picking"
    assert newest["paid_at"] is None
    # Times are shown as Shanghai wall-clock time.
    local_created = CREATED.astimezone(SHANGHAI).replace(tzinfo=None)
    assert abs(first["created_at"] - local_created) < timedelta(seconds=1)
    assert abs(first["paid_at"] - (local_created + timedelta(minutes=5))) < timedelta(seconds=1)


def test_xlsx_without_labels_keeps_raw_codes(exported):
    orders, _older, _newer = exported

    _sheet, rows = read_xlsx(orders, labels=False)

    assert rows[2][KEYS.index("status")] == "awaiting_shipment"
    assert rows[3][KEYS.index("refund_status")] == "refunded"


def test_export_of_an_empty_selection_has_only_the_header(merchant_a):
    orders = Order.objects.filter(merchant=merchant_a)

    assert read_csv(orders) == [KEYS]
    assert len(read_xlsx(orders)[1]) == 1


HOSTILE = {
    "order_no": "=HYPERLINK(\"http://evil\")",
    "platform_status": "+SUM(1,2)",
    "payment": "-2+3",
    "erp_product_id": "@cmd",
    "item_name": "\tTabbed",
    "batch_no": "\rReturn",
}


@pytest.fixture
def hostile_orders(merchant_a):
    OrderFactory(
        merchant=merchant_a, order_no=HOSTILE["order_no"], platform_status=HOSTILE["platform_status"],
        payment=HOSTILE["payment"],
        items=[{"erp_product_id": HOSTILE["erp_product_id"], "item_name": HOSTILE["item_name"],
                "batch_no": HOSTILE["batch_no"]}],
    )
    return Order.objects.filter(merchant=merchant_a)


def test_csv_neutralises_cells_that_start_like_formulas(hostile_orders):
    row = dict(zip(KEYS, read_csv(hostile_orders)[1]))

    for key, value in HOSTILE.items():
        assert row[key] == "'" + value, key


def test_xlsx_neutralises_cells_that_start_like_formulas(hostile_orders):
    _sheet, rows = read_xlsx(hostile_orders)
    row = dict(zip(KEYS, rows[1]))

    for key, value in HOSTILE.items():
        cell = row[key]
        assert cell.startswith("'"), key
        # XML parsers normalise a bare CR to LF; what matters is that the apostrophe comes first.
        assert cell[1:].replace("\n", "\r") == value.replace("\n", "\r"), key


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("a=b", "a=b"), ("", ""), (None, None), (-5, -5), (Decimal("-1.50"), Decimal("-1.50")),
])
def test_neutralise_prefixes_only_text_that_starts_like_a_formula(value, expected):
    assert neutralise(value) == expected


def test_xlsx_streams_in_several_chunks_for_many_rows(merchant_a):
    for _ in range(6):
        OrderFactory(merchant=merchant_a, items=100)

    chunks = list(xlsx_chunks(Order.objects.filter(merchant=merchant_a)))

    assert sum(1 for c in chunks if c) > 2
    rows = list(openpyxl.load_workbook(io.BytesIO(b"".join(chunks))).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 601


# --- for people and for machines ------------------------------------------------------------------------------

LONG_ORDER_NO = "2150000000000000001"  # 19 digits, as marketplaces number orders


@pytest.fixture
def long_numbers(merchant_a):
    OrderFactory(merchant=merchant_a, order_no=LONG_ORDER_NO, created_at=CREATED, modified_at=CREATED,
                 paid_at=None, items=[{"erp_product_id": "000123", "item_name": "Aspirin", "quantity": 12,
                                       "unit_price": Decimal("1234.50"), "amount": Decimal("14814.00"),
                                       "batch_no": "20260301"}])
    return Order.objects.filter(merchant=merchant_a)


def test_xlsx_money_has_two_decimals_and_times_are_local_date_cells(long_numbers):
    sheet, rows = read_xlsx(long_numbers)
    row = {key: sheet.cell(row=2, column=index) for index, key in enumerate(KEYS, start=1)}

    assert (row["unit_price"].value, row["amount"].value) == (1234.5, 14814)
    assert row["unit_price"].number_format == row["amount"].number_format == "#,##0.00"
    assert row["quantity"].number_format == "General"
    assert row["created_at"].value == datetime(2024, 3, 1, 10, 30, 15)
    assert row["created_at"].is_date and row["created_at"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert (row["order_no"].data_type, row["order_no"].value) == ("s", LONG_ORDER_NO)
    assert row["erp_product_id"].value == "000123"


def test_the_machine_csv_keeps_raw_values(long_numbers):
    row = dict(zip(KEYS, read_csv(long_numbers)[1]))

    assert (row["order_no"], row["erp_product_id"], row["batch_no"]) == (LONG_ORDER_NO, "000123", "20260301")
    assert (row["created_at"], row["unit_price"], row["quantity"]) == ("2024-03-01T10:30:15+08:00", "1234.50", "12")


def read_spreadsheet_csv(orders):
    text = "".join(csv_chunks(orders, for_spreadsheets=True))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_the_spreadsheet_csv_keeps_long_numbers_and_leading_zeros_as_text(long_numbers):
    rows = read_spreadsheet_csv(long_numbers)
    row = dict(zip(KEYS, rows[1]))

    assert rows[0] == KEYS
    # Excel, WPS and LibreOffice show ="..." as the text inside: the 19 digits whole, the zeros kept.
    assert (row["order_no"], row["erp_product_id"]) == (f'="{LONG_ORDER_NO}"', '="000123"')
    assert row["batch_no"] == "20260301"  # eight digits survive as a number; it stays as it is
    assert (row["quantity"], row["unit_price"], row["item_name"]) == ("12", "1234.50", "Aspirin")
    assert row["created_at"] == "2024-03-01 10:30:15"  # local time they read as a date


def test_the_spreadsheet_csv_keeps_the_formula_guards(hostile_orders, merchant_a):
    OrderFactory(merchant=merchant_a, order_no='0123"&CMD', items=[{"erp_product_id": "=0123"}])
    rows = {row[0]: dict(zip(KEYS, row)) for row in read_spreadsheet_csv(hostile_orders)[1:]}

    hostile = rows["'" + HOSTILE["order_no"]]
    for key, value in HOSTILE.items():
        assert hostile[key] == "'" + value, key
    # Only codes made of digits alone become ="..."; anything else is never wrapped in a formula.
    other = rows['0123"&CMD']
    assert other["erp_product_id"] == "'=0123"
