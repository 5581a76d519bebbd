"""The daily purge drops sync records past their retention and keeps the recent ones."""
from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import Connection, ConnectionTest, SyncModule, SyncRun
from sync.retention import records_purge

pytestmark = pytest.mark.django_db


def test_old_runs_and_connection_tests_are_purged_recent_ones_kept(merchant_a):
    now = timezone.now()
    connection = Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://127.0.0.1:9/r",
                                           app_key="k")
    old_test = ConnectionTest.objects.create(connection=connection, requested_at=now - timedelta(days=8))
    new_test = ConnectionTest.objects.create(connection=connection, requested_at=now - timedelta(days=1))
    old_run = SyncRun.objects.create(connection=connection, module=SyncModule.ORDERS, started_at=now - timedelta(days=31))
    new_run = SyncRun.objects.create(connection=connection, module=SyncModule.ORDERS, started_at=now - timedelta(days=2))

    purged = records_purge(now)

    assert purged["connection_tests"] == 1 and purged["runs"] == 1
    assert list(ConnectionTest.objects.values_list("pk", flat=True)) == [new_test.pk]
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [new_run.pk]
    assert not ConnectionTest.objects.filter(pk=old_test.pk).exists() and not SyncRun.objects.filter(pk=old_run.pk).exists()
