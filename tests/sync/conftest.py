"""A sandbox marketplace served by a live server, and a merchant connected to it over real HTTP."""
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from functools import partial
from unittest import mock

import pytest
from django.utils import timezone

from merchant.models import AuditSource
from merchant.permissions import Actor
from sync.marketplaces.top.adapter import TopMarketplace
from sync.marketplaces.top.client import TopClient
from sync.marketplaces.top.sandbox import gateway, marketplace
from sync.marketplaces.top.sandbox.models import SandboxShop, SandboxTrade
from sync.pipelines import orders_sync
from sync.marketplaces.top.services import connection_create
from tests.factories import ProductFactory

SECRET = "sandbox-secret"
SESSION = "sandbox-session"
ERP_IDS = [f"ERP-{n}" for n in range(1, 6)]


def short_sleep(seconds: float) -> None:
    # Backoff and budget waits stay real but short, so fault tests finish quickly; waits on a ban
    # still last as long as the ban because the budget keeps asking Redis until it ends.
    time.sleep(min(seconds, 0.02))


fast_client = partial(TopClient, sleep=short_sleep)


@pytest.fixture(autouse=True)
def fresh_budgets():
    """Budgets, bans and call counters are keyed by connection id, and ids repeat between test runs on one
    Redis (CI's runs share the machine's server)."""
    from sync import redis as sync_redis

    redis = sync_redis.connection()
    for pattern in ("mh:budget:*", "mh:ban:*", "mh:metrics:*"):
        for key in redis.scan_iter(pattern):
            redis.delete(key)


@pytest.fixture
def shop(transactional_db):
    return marketplace.shop_create(app_key="sandbox-app", app_secret=SECRET, session=SESSION, nick="sandbox-shop")


@pytest.fixture
def catalog(merchant_a, shop):
    products = [ProductFactory(merchant=merchant_a, erp_product_id=erp_id, default_price=Decimal("12.50"))
                for erp_id in ERP_IDS]
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, 100) for p in products])
    return products


@pytest.fixture
def top(live_server, merchant_a, shop, catalog):
    """merchant A's TOP connection to the sandbox, with a budget tests do not run into."""
    yield connection_create(
        merchant=merchant_a, actor=Actor.system(AuditSource.SYSTEM), app_secret=SECRET, session=SESSION,
        name="Sandbox shop", gateway_url=f"{live_server.url}/sandbox/top/router/rest", app_key="sandbox-app",
        sign_method="hmac-sha256", calls_per_minute=100_000,
    )
    # A call the client gave up on (a timeout) may still be answered by the live server; let it finish
    # before the database is reset, or it writes into the next test's data.
    assert gateway.wait_until_idle()


def full_pull_of_an_empty_shop(connection, shop: SandboxShop, **kwargs) -> dict:
    """The first orders_sync of a connection (its full pull), for a shop with no trades yet. With nothing to
    find, the 90 empty day windows are cut to the last day: the pull runs the same code and leaves the same
    checkpoints (full pull completed, the incremental one starting now) at a fiftieth of the calls."""
    assert not SandboxTrade.objects.filter(shop=shop).exists(), "only a shop without trades has nothing to find"
    with mock.patch.object(TopMarketplace, "windows", replace(TopMarketplace.windows, full_days=1)):
        return orders_sync(connection, client_factory=fast_client, **kwargs)


def faults(shop: SandboxShop, **values) -> None:
    SandboxShop.objects.filter(pk=shop.pk).update(**values)


def ago(**delta):
    return timezone.now() - timedelta(**delta)
