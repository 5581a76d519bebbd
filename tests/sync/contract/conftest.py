"""The contract suite runs once per marketplace: `platform` is that marketplace's driver (drivers.py), `market`
a merchant connected to its sandbox shop over HTTP (the live server), with our catalog listed there."""
from decimal import Decimal

import pytest

from tests.factories import ProductFactory

from .drivers import DRIVERS

CODES = ["ERP-1", "ERP-2", "ERP-3"]


@pytest.fixture(autouse=True)
def fresh_redis_state():
    """Budgets, bans, metrics and Douyin's cached carrier lists are keyed by connection id, and ids repeat
    between test runs on one Redis."""
    from sync import redis as sync_redis

    redis = sync_redis.connection()
    for pattern in ("mh:budget:*", "mh:ban:*", "mh:metrics:*", "*mh:douyin:*"):
        for key in redis.scan_iter(pattern):
            redis.delete(key)


@pytest.fixture(params=sorted(DRIVERS))
def platform(request, transactional_db):
    return DRIVERS[request.param]()


@pytest.fixture
def catalog(merchant_a):
    return [ProductFactory(merchant=merchant_a, erp_product_id=code, default_price=Decimal("12.50"), stock=100)
            for code in CODES]


@pytest.fixture
def market(platform, live_server, merchant_a, catalog):
    connection = platform.connect(live_server, merchant_a, catalog)
    yield connection
    # A call the client gave up on may still be answered by the live server; let it finish before the
    # database is reset, or it writes into the next test's data.
    assert platform.wait_idle()
