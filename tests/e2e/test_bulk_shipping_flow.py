"""Bulk shipping as a merchant does it: upload the carrier's sheet as a logistics import, review what will ship,
confirm, and find the orders shipped."""
import django_rq
import openpyxl
import pytest
import rq
from django.contrib.auth.models import User

from merchant.models import Carrier, Membership, Merchant, Order, OrderItem, Role

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(settings, tmp_path):
    from django.utils import timezone

    settings.MEDIA_ROOT = tmp_path / "media"
    merchant = Merchant.objects.create(code="shop", name="Shop")
    user = User.objects.create_user("shop_owner", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
    Carrier.objects.create(code="SF", name="顺丰速运")
    now = timezone.now()
    for number in ("000101", "000102"):
        order = Order.objects.create(merchant=merchant, order_no=number, status="awaiting_shipment", created_at=now,
                                     modified_at=now, paid_at=now)
        for line_no, (name, quantity) in enumerate((("Amoxicillin", 3), ("Ibuprofen", 2)), start=1):
            OrderItem.objects.create(order=order, line_no=line_no, erp_product_id=f"P-{line_no}", item_name=name,
                                     quantity=quantity, unit_price=1, amount=quantity)
    django_rq.get_queue("imports").empty()
    return merchant


def _work_off_imports_queue():
    queue = django_rq.get_queue("imports")
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_merchant_ships_orders_from_a_carrier_sheet(page, live_server, shop, tmp_path):
    sheet_path = tmp_path / "shipped.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["订单编号", "收件人", "快递公司", "快递单号", "行号", "数量"])
    sheet.append(["000101", "张三", "顺丰速运", "SF100000001", None, None])
    sheet.append(["000102", "李四", "SF", "SF100000002", 1, 1])
    workbook.save(sheet_path)
    log_in_in_english(page, live_server.url, "shop_owner", "secret-pass-123")

    page.click("nav >> text=Imports")
    page.select_option("select[name=kind]", "logistics")
    page.set_input_files("input[name=file]", str(sheet_path))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#progress")
    _work_off_imports_queue()
    page.wait_for_selector("#confirm", timeout=20000)  # the page reloads itself when the check is done

    assert page.inner_text("#count-changed") == "2"
    assert page.inner_text("#count-invalid") == "0"
    rows_text = page.inner_text("#rows")
    assert "000101" in rows_text and "SF100000001" in rows_text and "顺丰速运 (SF)" in rows_text
    assert "line 1 Amoxicillin × 3; line 2 Ibuprofen × 2" in rows_text
    assert "line 1 Amoxicillin × 1" in rows_text and "Partially shipped" in rows_text

    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#progress")
    _work_off_imports_queue()
    page.wait_for_selector("#summary", timeout=20000)
    assert "2 records written, 0 invalid rows skipped" in page.inner_text("#summary")

    for number, status, tracking_no in (("000101", "Shipped", "SF100000001"),
                                        ("000102", "Partially shipped", "SF100000002")):
        order = Order.objects.get(merchant=shop, order_no=number)
        page.goto(f"{live_server.url}{order.get_absolute_url()}")
        assert page.inner_text("#order-status") == status
        assert tracking_no in page.inner_text("#part-shipping")
