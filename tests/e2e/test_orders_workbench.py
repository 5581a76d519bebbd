"""The orders workbench in a real browser (SPEC M14): tick a page, widen to every matching order, act after the
confirmation; a new order appears without reloading the page and the ticks stay."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from merchant.models import Membership, Merchant, Order, Role

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _order(merchant, no, hours_ago, **extra):
    now = timezone.now()
    return Order.objects.create(merchant=merchant, order_no=no, status="awaiting_shipment",
                                created_at=now - timedelta(hours=hours_ago), modified_at=now,
                                paid_at=now - timedelta(minutes=hours_ago * 60 - 1),
                                total_amount=Decimal("10.00"), **extra)


@pytest.fixture
def desk():
    merchant = Merchant.objects.create(code="desk", name="Desk")
    user = User.objects.create_user("desk_operator", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OPERATOR)
    for i in range(25):
        _order(merchant, f"WB-{i:03d}", hours_ago=1 + i * 0.01)
    Order.objects.create(merchant=merchant, order_no="DONE-1", status="completed", created_at=timezone.now(),
                         modified_at=timezone.now())
    return merchant


def test_select_a_page_then_every_matching_order_and_flag_them(page, live_server, desk):
    log_in_in_english(page, live_server.url, "desk_operator", "secret-pass-123")
    page.goto(f"{live_server.url}/orders/?tab=awaiting_shipment&size=20")
    assert page.locator("[data-tab-count=awaiting_shipment]").inner_text() == "25"
    assert page.locator("input[name=id]").count() == 20
    page.check("[data-select-page]")
    assert page.locator("[data-selected-text]").inner_text() == "20 selected on this page"
    page.click("[data-select-matching]")
    assert page.locator("[data-selected-text]").inner_text() == "All 25 matching orders selected"
    page.click("summary:has-text('Flag and memo')")
    page.select_option("select[name=new_flag]", "red")
    page.click("button[name=action][value=flag]")
    page.wait_for_url("**/orders/bulk/")
    assert "This changes 25 of the 25 selected orders." in page.content()
    page.click("button:has-text('Change 25 orders')")
    page.wait_for_url("**/orders/?tab=awaiting_shipment&size=20")
    assert "25 orders changed." in page.content()
    assert Order.objects.filter(merchant=desk, flag="red").count() == 25
    assert Order.objects.get(order_no="DONE-1").flag == ""  # not in the tab, never touched


def test_a_new_order_appears_without_reload_and_the_ticks_stay(page, live_server, desk):
    log_in_in_english(page, live_server.url, "desk_operator", "secret-pass-123")
    page.goto(f"{live_server.url}/orders/?tab=awaiting_shipment")
    page.evaluate("window.__sameDocument = true")
    first = page.locator("input[name=id]").first
    first.check()
    _order(desk, "JUST-IN", hours_ago=0.01)
    # The page polls every 20 s while it is visible, and at once when the tab becomes visible again.
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_selector("#live-banner:not([hidden])")
    assert page.locator("[data-live-text]").inner_text() == "1 new order"
    assert page.locator("[data-tab-count=awaiting_shipment]").inner_text() == "26"
    page.click("[data-live-show]")
    page.wait_for_selector("tr.fresh")
    assert "JUST-IN" in page.locator("tbody[data-rows] tr").first.inner_text()
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert page.locator("input[name=id]:checked").count() == 1
    assert page.locator("[data-selected-text]").inner_text() == "1 selected on this page"
