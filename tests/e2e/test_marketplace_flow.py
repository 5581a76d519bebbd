"""A marketplace shop joins in a real browser: the owner adds the connection, tests it, and orders from
the sandbox marketplace appear in the back office once the sync has run."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from merchant.models import Membership, Merchant, Product, Role
from sync.connection_tests import connection_test_run
from sync.consumer import Consumer
from sync.models import Connection, ConnectionTest
from sync.pipelines import orders_sync
from sync.marketplaces.top.sandbox import marketplace

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner():
    merchant = Merchant.objects.create(code="shop", name="Shop")
    user = User.objects.create_user("shop_owner", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
    product = Product.objects.create(merchant=merchant, erp_product_id="SKU-1", name="Amoxicillin capsules",
                                     default_price=Decimal("12.50"), stock=50)
    shop = marketplace.shop_create(app_key="browser-app", app_secret="browser-secret", session="browser-session")
    marketplace.items_from_products(shop, [(product.erp_product_id, product.name, product.default_price, 50)])
    return shop


def test_owner_connects_a_shop_and_its_orders_flow_in(page, live_server, owner):
    base = live_server.url
    log_in_in_english(page, base, "shop_owner", "secret-pass-123")
    page.click("nav >> text=Connections")
    page.click("#add-connection")
    page.fill("input[name=name]", "My Taobao shop")
    page.fill("input[name=gateway_url]", f"{base}/sandbox/top/router/rest")
    page.fill("input[name=app_key]", "browser-app")
    page.fill("input[name=app_secret]", "browser-secret")
    page.fill("input[name=session]", "browser-session")
    page.select_option("select[name=sign_method]", "hmac")
    page.click("button:has-text('Add connection')")
    page.click("#test-connection")
    assert page.locator("#test-status").inner_text() == "Waiting for a worker"
    connection_test_run(test_id=ConnectionTest.objects.get(connection__name="My Taobao shop").pk)  # the sync worker
    page.wait_for_selector("#test-status.ok")  # the page follows the test and reloads when it is over
    assert page.locator("#test-message").inner_text().startswith("Connected.")
    assert "browser-secret" not in page.content() and "browser-session" not in page.content()

    connection = Connection.objects.get(name="My Taobao shop")
    orders_sync(connection, trigger="manual")  # what the worker runs: the first (full) pull
    consumer = Consumer(only=[connection.pk])
    consumer.poll(connection)  # what messages_consume does: permit, then consume
    trade = marketplace.trade_create(owner, lines=[("SKU-1", 2)], type="step")
    consumer.poll(connection)

    page.goto(f"{base}/orders/?q={trade.tid}")
    page.click(f"text={trade.tid}")
    assert page.locator("text=Presale").count() >= 1
    assert page.locator("text=Amoxicillin capsules").count() >= 1
    page.goto(f"{base}/connections/{connection.pk}/")
    assert page.locator("text=Closed").count() >= 1  # the breaker
    assert page.locator("#sync-orders").count() == 1
