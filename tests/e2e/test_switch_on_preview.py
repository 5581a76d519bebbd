"""Turning a paused module back on in a real browser: the page lists what will apply first, cancel keeps
everything as it was, confirm applies the held values; a stock edit offers an undo."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from merchant.models import HeldValue, Membership, Merchant, ModuleSwitch, Product, Role

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paused_prices():
    merchant = Merchant.objects.create(code="shop", name="Shop")
    user = User.objects.create_user("shop_owner", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
    product = Product.objects.create(merchant=merchant, erp_product_id="SKU-1", name="Amoxicillin capsules",
                                     default_price=Decimal("50.00"), stock=10)
    ModuleSwitch.objects.create(merchant=merchant, module="prices", enabled=False)
    HeldValue.objects.create(merchant=merchant, product=product, field="default_price", source="erp",
                             value="32.57", received_at=timezone.now())
    return product


def test_turning_prices_on_shows_the_held_values_and_applies_them_only_on_confirm(live_server, page, paused_prices):
    log_in_in_english(page, live_server.url, "shop_owner", "secret-pass-123")
    page.goto(f"{live_server.url}/switches/")
    page.locator("#modules tr", has_text="Prices").get_by_role("button", name="Turn on").click()
    page.wait_for_load_state()
    assert "Turn automatic sync of Prices on?" in page.locator("h1").inner_text()
    row = page.locator("tbody tr", has_text="SKU-1").inner_text()
    assert "50.00" in row and "32.57" in row
    page.get_by_role("link", name="Cancel: keep it off").click()
    page.wait_for_load_state()
    paused_prices.refresh_from_db()
    assert paused_prices.default_price == Decimal("50.00")
    assert ModuleSwitch.objects.get(module="prices").enabled is False

    page.locator("#modules tr", has_text="Prices").get_by_role("button", name="Turn on").click()
    page.click("#confirm-switch-on")
    page.wait_for_load_state()
    assert "Automatic sync of Prices is on: 1 held value applied." in page.locator(".messages").inner_text()
    paused_prices.refresh_from_db()
    assert paused_prices.default_price == Decimal("32.57")
    assert not HeldValue.objects.exists()


def test_a_stock_edit_says_what_it_did_and_can_be_undone(live_server, page, paused_prices):
    log_in_in_english(page, live_server.url, "shop_owner", "secret-pass-123")
    page.goto(f"{live_server.url}{paused_prices.get_absolute_url()}")
    page.fill("#stock-card input[name=stock]", "4")
    page.locator("#stock-card").get_by_role("button", name="Save stock").click()
    page.wait_for_load_state()
    message = page.locator(".messages").inner_text()
    assert "Stock saved. Automatic stock sync is on" in message
    page.locator(".messages").get_by_role("button", name="Undo").click()
    page.wait_for_load_state()
    assert "Undone: stock is 10 again." in page.locator(".messages").inner_text()
    paused_prices.refresh_from_db()
    assert paused_prices.stock == 10
