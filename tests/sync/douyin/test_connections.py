"""Adding a Douyin shop: the operator's connection_add (obtains the token at once), the back office's form (the
token comes from a worker's first test) and sync_run's jobs for it."""
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from merchant.models import Order
from sync import http
from sync.connection_tests import connection_test_run
from sync.marketplaces.douyin.sandbox import gateway, marketplace
from sync.models import Connection, ConnectionKind, ConnectionTest, ConnectionTestStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english", "english_pages")]

APP_KEY, SECRET, SHOP_ID = "7000000000000000021", "douyin-connect-secret", 88_000_021


@pytest.fixture
def shop(transactional_db):
    shop = marketplace.shop_create(app_key=APP_KEY, app_secret=SECRET, shop_id=SHOP_ID)
    marketplace.products_from_codes(shop, [("ERP-1", "阿莫西林胶囊", 1250, 100)])
    yield shop
    assert gateway.wait_until_idle()
    http.session().close()


def add(live_server, merchant, *extra, secret=SECRET):
    out = StringIO()
    call_command("connection_add", merchant.code, "douyin", "--gateway", f"{live_server.url}/sandbox/douyin",
                 "--app-key", APP_KEY, "--app-secret", secret, "--shop-id", str(SHOP_ID), *extra, stdout=out)
    return Connection.objects.get(pk=int(out.getvalue().strip()))


def test_connection_add_obtains_and_stores_the_token_encrypted(live_server, merchant_a, shop):
    connection = add(live_server, merchant_a)
    shop.refresh_from_db()
    assert connection.kind == ConnectionKind.DOUYIN and connection.shop_id == str(SHOP_ID)
    assert connection.session == shop.access_token and connection.refresh_token == shop.refresh_token
    # Stored encrypted: the column never holds the token itself.
    assert shop.access_token not in connection.session_encrypted and connection.token_expires_at is not None


def test_a_refused_secret_leaves_no_connection(live_server, merchant_a, shop):
    with pytest.raises(CommandError, match="Douyin did not give an access token"):
        add(live_server, merchant_a, secret="not-the-secret")
    assert not Connection.objects.filter(kind=ConnectionKind.DOUYIN).exists()


def test_sync_run_pulls_a_douyin_shop_and_refuses_what_it_does_not_offer(live_server, merchant_a, shop):
    connection = add(live_server, merchant_a)
    order = marketplace.order_create(shop, lines=[("ERP-1", 2)], created=timezone.now() - timedelta(minutes=1))
    out = StringIO()
    call_command("sync_run", str(connection.pk), "orders", "--full", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["outcome"] == "ok" and summary["created"] == 1
    assert Order.objects.filter(connection=connection, order_no=order.shop_order_id).exists()
    with pytest.raises(CommandError, match="prices is not offered by a Douyin"):
        call_command("sync_run", str(connection.pk), "prices", stdout=StringIO())


def test_the_back_office_adds_a_douyin_shop_and_its_first_test_obtains_the_token(live_server, client_owner,
                                                                                   merchant_a, shop):
    page = client_owner.get(reverse("connection_add") + "?kind=douyin")
    assert page.status_code == 200 and b'name="shop_id"' in page.content and b'name="session"' not in page.content
    assert b"Add a Douyin shop" in page.content and b'<option value="douyin" selected>' in page.content
    answer = client_owner.post(reverse("connection_add") + "?kind=douyin", {
        "kind": "douyin", "name": "抖店旗舰店", "gateway_url": f"{live_server.url}/sandbox/douyin",
        "app_key": APP_KEY, "app_secret": SECRET, "shop_id": str(SHOP_ID), "sign_method": "hmac-sha256",
        "calls_per_minute": 100, "orders_interval": 60, "refunds_interval": 300, "messages_enabled": "on",
    })
    connection = Connection.objects.get(kind=ConnectionKind.DOUYIN)
    assert answer.status_code == 302 and answer.url == connection.get_absolute_url()
    assert connection.session == ""  # the web request made no outbound call
    test = ConnectionTest.objects.get(connection=connection)
    assert test.status == ConnectionTestStatus.QUEUED

    connection_test_run(test_id=test.pk)

    test.refresh_from_db()
    connection.refresh_from_db()
    assert test.status == ConnectionTestStatus.OK, test.message
    shop.refresh_from_db()
    assert connection.session == shop.access_token
    detail = client_owner.get(connection.get_absolute_url()).content.decode()
    assert str(SHOP_ID) in detail and "renewed automatically" in detail and shop.access_token not in detail


def test_a_shop_id_that_is_not_a_number_is_refused_next_to_the_field(client_owner, shop):
    answer = client_owner.post(reverse("connection_add") + "?kind=douyin", {
        "kind": "douyin", "name": "抖店", "gateway_url": "https://openapi-fxg.jinritemai.com", "app_key": APP_KEY,
        "app_secret": SECRET, "shop_id": "shop-1", "sign_method": "hmac-sha256", "calls_per_minute": 100,
        "orders_interval": 60, "refunds_interval": 300,
    })
    assert answer.status_code == 400 and b"digits only" in answer.content
    assert not Connection.objects.filter(kind=ConnectionKind.DOUYIN).exists()
