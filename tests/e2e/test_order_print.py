"""Printing a pick list from the orders list in a real browser: its lines, no policy violation, and print CSS that
drops the app chrome."""
from datetime import timedelta

import pytest
from django.utils import timezone

from merchant.models import Role

from ..factories import PASSWORD, BatchFactory, MerchantFactory, OrderFactory, ProductFactory, member
from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_orders():
    merchant = MerchantFactory(code="print-shop", name="Print Shop")
    member(merchant, Role.VIEWER, username="print_viewer")
    today = timezone.localdate()
    amox = ProductFactory(merchant=merchant, erp_product_id="P-1", name="Amoxicillin", spec="0.25g*24", unit="box",
                          batch_managed=True)
    BatchFactory(product=amox, batch_no="AMX-SOON", expiry_date=today + timedelta(days=30), quantity=3)
    BatchFactory(product=amox, batch_no="AMX-LATER", expiry_date=today + timedelta(days=300), quantity=50)
    BatchFactory(product=amox, batch_no="AMX-OLD", expiry_date=today - timedelta(days=1), quantity=50)
    paid = timezone.now() - timedelta(hours=3)
    first = OrderFactory(merchant=merchant, order_no="SO-E2E-1", paid_at=paid, items=[{"product": amox, "quantity": 2}])
    second = OrderFactory(merchant=merchant, order_no="SO-E2E-2", paid_at=paid + timedelta(hours=1),
                          items=[{"product": amox, "quantity": 4}])
    return first, second


def test_pick_list_prints_its_lines_without_the_app_chrome(page, live_server, two_orders):
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    log_in_in_english(page, live_server.url, "print_viewer", PASSWORD)
    first, second = two_orders
    # From the orders list: tick the two orders, print their pick list (it opens in a new tab).
    page.goto(f"{live_server.url}/orders/")
    page.check(f"input[name=id][value='{first.pk}']")
    page.check(f"input[name=id][value='{second.pk}']")
    with page.expect_popup() as popup:
        page.click("button:has-text('Print pick list')")
    page = popup.value
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.wait_for_load_state()
    assert "/orders/print/pick-list/" in page.url

    rows = [page.locator("#pick-lines tbody tr").nth(i).inner_text() for i in range(2)]
    assert page.locator("#pick-lines tbody tr").count() == 2
    # The order paid first takes the batch that expires first; the rest comes from the next batch.
    assert "AMX-SOON" in rows[0] and "SO-E2E-1 ×2" in rows[0] and "SO-E2E-2 ×1" in rows[0]
    assert "\t3\t" in rows[0]
    assert "AMX-LATER" in rows[1] and "SO-E2E-2 ×3" in rows[1] and "\t3\t" in rows[1]
    assert "AMX-OLD" not in page.inner_text("#pick-list")
    assert "6" in page.inner_text("#pick-total")

    assert page.locator("header.top nav").is_visible()
    assert page.locator("#print-button").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.top nav").is_visible()
    assert not page.locator("#print-toolbar").is_visible()
    assert page.locator("#pick-lines").is_visible()
    # The pages go to a PDF through the print pipeline (what the print dialog's "Save as PDF" does).
    assert page.pdf(format="A4")[:5] == b"%PDF-"
    assert refused == []
