"""A sandbox ERP bridge served by a live server, and merchant A's ERP connection to it over real HTTP."""
import time
from functools import partial

import pytest

from sync.erp.client import ErpClient
from sync.erp.orders import erp_orders_sync
from sync.erp.pull import erp_pull_sync
from sync.erp.sandbox import bridge as sandbox_bridge
from sync.erp.sandbox.demo import sandbox_erp_connect
from sync.erp.sandbox.erp import erp_create
from sync.erp.sandbox.models import SandboxErp

KEY = "erp-bridge-key"
SECRET = "erp-bridge-secret"


def short_sleep(seconds: float) -> None:
    # Backoff and budget waits stay real but short; a wait on a 429 still lasts as long as its Retry-After
    # because the budget keeps asking Redis until the ban ends.
    time.sleep(min(seconds, 0.02))


fast_client = partial(ErpClient, sleep=short_sleep)


@pytest.fixture(autouse=True)
def fresh_budgets():
    """Budgets, bans and call counters are keyed by connection id, and ids repeat between test runs on one
    Redis (CI's runs share the machine's server)."""
    from sync import redis as sync_redis

    redis = sync_redis.connection()
    for pattern in ("mh:budget:*", "mh:ban:*", "mh:metrics:*"):
        for key in redis.scan_iter(pattern):
            redis.delete(key)


@pytest.fixture(autouse=True)
def no_open_http_connections():
    """Close the pooled keep-alive connections to the live server after each test: a server thread still
    waiting on one when the live server stops closes its database connection from the wrong thread."""
    yield
    from sync import http

    http.session().close()


@pytest.fixture
def bridge(transactional_db) -> SandboxErp:
    return erp_create(app_key=KEY, app_secret=SECRET, name="Test ERP")


@pytest.fixture
def connection(live_server, merchant_a, bridge):
    """merchant A's ERP connection to the sandbox bridge, with a budget tests do not run into."""
    _erp, connection = sandbox_erp_connect(merchant=merchant_a, base_url=f"{live_server.url}/sandbox/erp",
                                           app_key=KEY, app_secret=SECRET, name="Test ERP",
                                           calls_per_minute=100_000)
    yield connection
    # A call the client gave up on (a timeout) may still be answered by the live server; let it finish
    # before the database is reset, or it writes into the next test's data.
    assert sandbox_bridge.wait_until_idle()


def pull(connection, **kwargs) -> dict:
    """What the erp_pull job runs, with short backoff waits."""
    connection.refresh_from_db()
    return erp_pull_sync(connection, trigger="test", client_factory=fast_client, **kwargs)


def hand_over(connection) -> dict:
    """What the erp_orders job runs, with short backoff waits."""
    connection.refresh_from_db()
    return erp_orders_sync(connection, trigger="test", client_factory=fast_client)


def faults(bridge: SandboxErp, **values) -> None:
    SandboxErp.objects.filter(pk=bridge.pk).update(**values)
