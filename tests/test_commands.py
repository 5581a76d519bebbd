"""The management commands: demo_load (the demo data set) and orders_export (the orders CLI)."""
import csv
import io
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Sum

from merchant.demo import purchasing
from merchant.models import (
    BaseProduct, Carrier, Customer, ErpCustomerCode, ErpStatus, Membership, Merchant, Order, OrderItem,
    OrderStatus, Product, Role, Shipment, ShipmentItem, TrackingEntry,
)

from .factories import OrderFactory

User = get_user_model()
S = OrderStatus

# ---------------------------------------------------------------- demo_load

DEMO_USERS = {
    "demo_owner": ("demo", Role.OWNER), "demo_operator": ("demo", Role.OPERATOR),
    "demo_viewer": ("demo", Role.VIEWER), "other_owner": ("other", Role.OWNER),
}
# Tables demo_load fills; a second run must leave every one of them as it was.
DEMO_MODELS = [
    User, Membership, Merchant, BaseProduct, Carrier, Customer, ErpCustomerCode, Product, Order, OrderItem,
    Shipment, ShipmentItem, TrackingEntry,
]


def demo_load(*args) -> str:
    out = io.StringIO()
    call_command("demo_load", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict:
    return {model.__name__: model.objects.count() for model in DEMO_MODELS}


@pytest.mark.django_db
def test_demo_load_refuses_with_debug_off_and_creates_nothing(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG off.*--force"):
        demo_load()

    assert not User.objects.exists()
    assert not Merchant.objects.exists()
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_demo_load_creates_users_catalogs_customers_and_consistent_orders(settings):
    settings.DEBUG = True

    output = demo_load()

    assert "Logins (password demo12345): admin, demo_owner, demo_operator, demo_viewer, other_owner" in output
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.check_password("demo12345")
    for username, (code, role) in DEMO_USERS.items():
        user = User.objects.get(username=username)
        assert user.check_password("demo12345"), username
        assert not user.is_staff, username
        assert (user.membership.merchant.code, user.membership.role) == (code, role), username
    demo, other = Merchant.objects.get(code="demo"), Merchant.objects.get(code="other")

    assert demo.products.count() == 200
    assert other.products.count() == 15
    assert demo.products.filter(listing_state="pending_review", base_product=None).count() == 25
    customers = list(Customer.objects.all())
    assert len(customers) == 100
    for customer in customers:
        customer.full_clean()  # the USCC validator checks the check character

    # One extra per status the dice missed, and up to one standing order a day for the purchase suggestions.
    assert 500 <= demo.orders.count() <= 500 + len(S.values) + purchasing.HISTORY_DAYS
    assert other.orders.count() == 20
    assert set(demo.orders.values_list("status", flat=True)) == set(S.values)
    for order in Order.objects.all():
        assert order.total_amount == order.goods_amount + order.shipping_fee - order.discount_amount, order.order_no
    assert not Order.objects.filter(status__in=[S.PARTIALLY_SHIPPED, S.SHIPPED, S.COMPLETED], shipments=None).exists()
    assert not Shipment.objects.filter(order__status__in=[S.PENDING_PAYMENT, S.AWAITING_SHIPMENT]).exists()
    # Shipped and completed orders shipped every unit of every line; partially shipped ones did not.
    lines = OrderItem.objects.annotate(shipped=Sum("shipment_items__quantity"))
    assert all(line.shipped == line.quantity for line in lines.filter(order__status__in=[S.SHIPPED, S.COMPLETED]))
    for order in Order.objects.filter(status=S.PARTIALLY_SHIPPED).prefetch_related("items"):
        shipped = ShipmentItem.objects.filter(shipment__order=order).aggregate(n=Sum("quantity"))["n"]
        assert 0 < shipped < sum(item.quantity for item in order.items.all()), order.order_no
    assert TrackingEntry.objects.exists()
    assert not Order.objects.filter(taken_by_erp=True, tracking=None).exists()
    assert not Order.objects.filter(status=S.COMPLETED).exclude(tracking__erp_status=ErpStatus.SIGNED).exists()


@pytest.mark.django_db
def test_demo_load_twice_changes_no_counts_and_force_overrides_debug_off(settings):
    settings.DEBUG = True
    demo_load()
    before = row_counts()
    statuses = dict(Order.objects.values_list("status").annotate(n=Count("pk")))

    settings.DEBUG = False
    output = demo_load("--force")

    assert row_counts() == before
    assert dict(Order.objects.values_list("status").annotate(n=Count("pk"))) == statuses
    assert "demo: already has data, left as is" in output
    assert User.objects.get(username="demo_viewer").check_password("demo12345")


# ---------------------------------------------------------------- orders_export

HEADER = ("order_no,source,status,platform_status,created_at,modified_at,paid_at,payment,erp_status,taken_by_erp,"
          "line_no,erp_product_id,item_name,quantity,unit_price,amount,refund_status,batch_no")
DAY = datetime(2024, 5, 10, 4, 0, tzinfo=dt_timezone.utc)  # 12:00 in Shanghai


@pytest.fixture
def orders(merchant_a, merchant_b):
    """Merchant A: a 2-item order awaiting shipment on DAY, a 1-item completed one 3 days later, a 1-item
    cancelled one 10 days earlier; merchant B: one order that must never be exported."""
    return {
        "awaiting": OrderFactory(merchant=merchant_a, order_no="A-AWAIT", created_at=DAY, items=[
            {"erp_product_id": "SKU-1", "item_name": "Aspirin", "quantity": 3, "unit_price": Decimal("2.50")},
            {"erp_product_id": "SKU-2", "item_name": "Ibuprofen"},
        ]),
        "completed": OrderFactory(merchant=merchant_a, order_no="A-DONE", status=S.COMPLETED,
                                  created_at=DAY + timedelta(days=3), items=1),
        "cancelled": OrderFactory(merchant=merchant_a, order_no="A-OLD", status=S.CANCELLED,
                                  created_at=DAY - timedelta(days=10), items=1),
        "outsider": OrderFactory(merchant=merchant_b, order_no="B-ONLY", created_at=DAY, items=2),
    }


def export(code: str, out, **options) -> str:
    stdout = io.StringIO()
    call_command("orders_export", code, out=str(out), stdout=stdout, **options)
    return stdout.getvalue()


def read_csv_file(path) -> tuple[str, list[dict]]:
    """(the header line, the rows as dicts); asserts the file starts with a UTF-8 BOM."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw[3:].decode("utf-8")
    return text.splitlines()[0], list(csv.DictReader(io.StringIO(text, newline="")))


def test_orders_export_csv_has_the_header_and_one_row_per_item_of_only_that_merchant(orders, tmp_path):
    path = tmp_path / "orders.csv"

    output = export("merchant-a", path)

    header, rows = read_csv_file(path)
    assert header == HEADER
    assert sorted((r["order_no"], r["line_no"]) for r in rows) == [
        ("A-AWAIT", "1"), ("A-AWAIT", "2"), ("A-DONE", "1"), ("A-OLD", "1"),
    ]
    aspirin = next(r for r in rows if r["erp_product_id"] == "SKU-1")
    assert (aspirin["item_name"], aspirin["quantity"], aspirin["unit_price"], aspirin["amount"]) == (
        "Aspirin", "3", "2.50", "7.50")
    assert aspirin["status"] == "awaiting_shipment"
    assert aspirin["created_at"] == "2024-05-10T12:00:00+08:00"
    assert "Wrote 4 item rows of 3 orders" in output


def test_orders_export_filters_by_status_and_creation_time(orders, tmp_path):
    by_status = tmp_path / "completed.csv"
    by_time = tmp_path / "window.csv"

    export("merchant-a", by_status, status="completed")
    export("merchant-a", by_time, since="2024-05-01", until="2024-05-13T12:00:00+08:00")

    assert {r["order_no"] for r in read_csv_file(by_status)[1]} == {"A-DONE"}
    # since is inclusive (a bare date is its midnight in Shanghai), until exclusive.
    assert sorted(r["order_no"] for r in read_csv_file(by_time)[1]) == ["A-AWAIT", "A-AWAIT"]


def test_orders_export_searches_like_the_orders_list(orders, tmp_path):
    export("merchant-a", tmp_path / "q.csv", q="Aspir")
    export("merchant-a", tmp_path / "tab.csv", tab="closed")
    export("merchant-a", tmp_path / "prefix.csv", q="A-D")
    assert {r["order_no"] for r in read_csv_file(tmp_path / "q.csv")[1]} == {"A-AWAIT"}
    assert {r["order_no"] for r in read_csv_file(tmp_path / "tab.csv")[1]} == {"A-OLD"}
    assert {r["order_no"] for r in read_csv_file(tmp_path / "prefix.csv")[1]} == {"A-DONE"}
    with pytest.raises(CommandError, match="--q"):
        export("merchant-a", tmp_path / "bad.csv", q="a\x00")


def test_orders_export_xlsx_holds_the_same_rows_as_the_csv(orders, tmp_path):
    export("merchant-a", tmp_path / "orders.csv")
    export("merchant-a", tmp_path / "orders.xlsx")

    _header, csv_rows = read_csv_file(tmp_path / "orders.csv")
    sheet = openpyxl.load_workbook(tmp_path / "orders.xlsx").worksheets[0]
    xlsx_rows = list(sheet.iter_rows(values_only=True))

    keys = HEADER.split(",")
    assert len(xlsx_rows) == 1 + len(csv_rows)  # the header (translated labels) and one row per item
    as_text = lambda value: "" if value is None else str(value)  # noqa: E731
    for key in ("order_no", "line_no", "erp_product_id", "item_name", "quantity", "batch_no"):
        column = keys.index(key)
        assert [as_text(row[column]) for row in xlsx_rows[1:]] == [r[key] for r in csv_rows], key
    amounts = [Decimal(str(row[keys.index("amount")])) for row in xlsx_rows[1:]]
    assert amounts == [Decimal(r["amount"]) for r in csv_rows]


@pytest.mark.parametrize("code,out,options,message", [
    ("nobody", "orders.csv", {}, "No merchant with code 'nobody'"),
    ("merchant-a", "orders.pdf", {}, "must end in .xlsx or .csv"),
    ("merchant-a", "orders.csv", {"status": "lost"}, "--status: 'lost' is not a status"),
    ("merchant-a", "orders.xlsx", {"since": "2024-02-30"}, "--since: '2024-02-30' is not an ISO date"),
    ("merchant-a", "orders.csv", {"since": "yesterday"}, "--since: 'yesterday' is not an ISO date"),
])
def test_orders_export_rejects_bad_arguments_and_writes_no_file(orders, tmp_path, code, out, options, message):
    with pytest.raises(CommandError, match=message):
        export(code, tmp_path / out, **options)

    assert list(tmp_path.iterdir()) == []
