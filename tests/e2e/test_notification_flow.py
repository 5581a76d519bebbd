"""Notifications in a real browser: the owner adds a DingTalk robot pointing at a local fake robot, sends a test
message and sees it sent (the robot received a correctly signed markdown message); an event then shows on the
bell."""
import base64
import hashlib
import hmac
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import translation
from django.utils.translation import gettext

from merchant.models import Delivery, ListingState, Membership, Merchant, Product, Role
from merchant.services.notification_scans import notifications_scan
from sync.deliveries import delivery_send
from tests.outbound_servers import FakeRobot

from .conftest import log_in_in_english

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "SECe2e-signing-secret"


@pytest.fixture
def shop_owner():
    merchant = Merchant.objects.create(code="shop", name="Shop", low_stock_threshold=5)
    user = User.objects.create_user("shop_owner", password="secret-pass-123")
    Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
    return merchant


def test_owner_adds_a_dingtalk_robot_tests_it_and_sees_the_bell(page, live_server, serve, shop_owner):
    robot = FakeRobot("dingtalk")
    server = serve(robot)
    base = live_server.url
    log_in_in_english(page, base, "shop_owner", "secret-pass-123")
    assert page.locator("#bell-count").count() == 0

    page.click("#bell")
    page.click("#robot-channels")
    page.click("#add-robot")
    page.fill("input[name=name]", "Warehouse group")
    page.select_option("select[name=kind]", "dingtalk")
    page.fill("input[name=webhook_url]", f"{server.url}/robot/send?access_token=e2e-token-7788")
    page.fill("input[name=secret]", SECRET)
    page.click("#save-robot")
    row = page.locator("#robot-channels tbody tr").first
    assert "token ending in …7788" in row.inner_text()
    assert "e2e-token-7788" not in page.content() and SECRET not in page.content()

    row.locator("[data-send-test]").click()
    assert page.locator("[data-test-status]").inner_text() == "Waiting to be sent"
    delivery_send(Delivery.objects.get(notification__isnull=True).pk)  # the sync worker
    page.wait_for_selector("[data-test-status].sent")  # the page follows the test and reloads when it is over
    assert page.locator("[data-test-status]").inner_text() == "Sent"

    request = robot.received[0]
    assert request["path"] == "/robot/send" and request["query"]["access_token"] == "e2e-token-7788"
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{request['query']['timestamp']}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert request["query"]["sign"] == expected
    assert request["json"]["msgtype"] == "markdown" and request["json"]["markdown"]["text"].startswith("#### ")

    Product.objects.create(merchant=shop_owner, erp_product_id="SKU-1", name="Aspirin", stock=2,
                           default_price=Decimal("9.90"), listing_state=ListingState.LISTED)
    notifications_scan()  # the hourly job
    page.reload()
    assert page.locator("#bell-count").inner_text() == "1"
    page.click("#bell")
    assert page.locator("#notifications tr.unread").count() == 1
    # Written in the site's language when the scan ran (workers have no reader), whatever the page's language.
    with translation.override(settings.LANGUAGE_CODE):
        line = gettext("%(id)s %(name)s: stock %(stock)s") % {"id": "SKU-1", "name": "Aspirin", "stock": 2}
    assert line in page.locator("#notifications").inner_text()
    delivery_send(Delivery.objects.get(notification__isnull=False).pk)
    assert len(robot.received) == 2 and "Aspirin" in robot.received[1]["json"]["markdown"]["text"]
    page.click("#read-all")
    assert page.locator("#bell-count").count() == 0
