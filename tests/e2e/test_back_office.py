"""A merchant's day by hand in a real browser: log in, edit stock, list a product, filter, export."""
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from merchant.models import BaseProduct, Customer, Membership, Merchant, Order, OrderItem, Product, Role
from merchant.validators import uscc_check_char

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop():
    merchant = Merchant.objects.create(code="shop", name="Shop")
    user = User.objects.create_user("shop_owner", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
    base = BaseProduct.objects.create(name="Amoxicillin", barcode="690000000001")
    product = Product.objects.create(
        merchant=merchant, erp_product_id="SKU-1", name="Amoxicillin capsules", base_product=base,
        default_price=Decimal("12.50"), stock=0, listing_state="ready",
    )
    customer = Customer.objects.create(name="Good Health Pharmacy", uscc="91350100M000100Y4" + uscc_check_char("91350100M000100Y4"))
    now = timezone.now()
    for no, status in (("A-100", "awaiting_shipment"), ("C-200", "completed")):
        order = Order.objects.create(
            merchant=merchant, order_no=no, customer=customer, status=status,
            created_at=now - timedelta(hours=1), modified_at=now, total_amount=Decimal("25.00"),
        )
        OrderItem.objects.create(order=order, line_no=1, product=product, erp_product_id="SKU-1",
                                 item_name=f"Amoxicillin for {no}", quantity=2, unit_price=Decimal("12.50"),
                                 amount=Decimal("25.00"))
    return product


def test_merchant_edits_stock_lists_filters_and_exports(page, live_server, shop, tmp_path):
    log_in_in_english(page, live_server.url, "shop_owner", "secret-pass-123")

    page.click("text=Products")
    page.click("text=SKU-1")
    page.fill("#stock-card input[name=stock]", "40")
    page.click("#stock-card button[type=submit]")
    page.wait_for_selector("text=Stock saved.")
    assert page.inner_text("#stock-value") == "40"

    page.click("#listing-card button[type=submit]")
    page.wait_for_selector("text=Listed.")
    shop.refresh_from_db()
    assert shop.stock == 40 and shop.listing_state == "listed"

    page.goto(f"{live_server.url}/orders/")
    page.click("summary:has-text('More filters')")
    page.select_option("select[name=status]", "awaiting_shipment")
    page.click("#order-filters button[type=submit]")
    page.wait_for_url("**status=awaiting_shipment**")
    table = page.inner_text("table")
    assert "A-100" in table and "C-200" not in table

    with page.expect_download() as info:
        page.click("#export-xlsx")
    path = tmp_path / "orders.xlsx"
    info.value.save_as(path)
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "Order number"
    assert [r[0] for r in rows[1:]] == ["A-100"]
    assert rows[1][12] == "Amoxicillin for A-100"
