import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import Connection, ConnectionKind

from .gateway import ScriptedGateway

APP_KEY = "7000000000000000001"
SECRET = "douyin-test-secret"


@pytest.fixture(autouse=True)
def fresh_budgets():
    from sync import redis as sync_redis

    redis = sync_redis.connection()
    # Also the adapter's cached carrier lists and shop scans: connection ids repeat between runs on one Redis.
    for pattern in ("mh:budget:*", "mh:ban:*", "mh:metrics:*", "*mh:douyin:*"):
        for key in redis.scan_iter(pattern):
            redis.delete(key)


def no_sleep(seconds):
    pass


def short_sleep(seconds: float) -> None:
    # The budget keeps asking Redis until a ban ends, so waits stay as long as the ban while backoff is short.
    time.sleep(min(seconds, 0.02))


@pytest.fixture
def gateway(serve):
    """start(script) -> (ScriptedGateway, its base URL)."""
    def start(script=None):
        scripted = ScriptedGateway(APP_KEY, SECRET, script or {})
        server = serve(scripted)
        return scripted, server.url
    return start


@pytest.fixture
def douyin_connection(merchant_a):
    def make(url, *, expires_in=timedelta(days=5), **fields):
        connection = Connection(merchant=merchant_a, kind=ConnectionKind.DOUYIN, name="Douyin shop",
                                gateway_url=url, app_key=APP_KEY, sign_method="hmac-sha256", shop_id="4463798",
                                calls_per_minute=100_000, token_expires_at=timezone.now() + expires_in, **fields)
        connection.app_secret = SECRET
        connection.session = "access-old"
        connection.refresh_token = "refresh-old"
        connection.save()
        return connection
    return make
