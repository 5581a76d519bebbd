"""How long sync's records are kept."""
from datetime import timedelta

from django.utils import timezone

from merchant.models import Delivery, Notification, NotificationCooldown

from .models import ApiCall, ConnectionTest, ProcessedMessage, PushedMessage, SyncRun

API_CALLS = timedelta(days=7)
# The marketplace keeps undelivered messages 24 h, so ids older than that cannot come again.
PROCESSED_MESSAGES = timedelta(days=3)
# A pushed message is kept as long after it was handled, so a late redelivery is still recognised; one never
# handled (its connection stopped) a month, after which polling and reconciliation have long covered its order.
PUSHED_MESSAGES = timedelta(days=3)
PUSHED_UNHANDLED = timedelta(days=30)
RUNS = timedelta(days=30)
# Only the latest tests are shown; a week is plenty to look back at what a test said.
CONNECTION_TESTS = timedelta(days=7)
# The notification centre keeps a month (its deliveries and read marks go with it); a robot's "send test" a
# week, as connection tests; a cooldown mark once it is well past any cooldown.
NOTIFICATIONS = timedelta(days=30)
TEST_DELIVERIES = timedelta(days=7)
COOLDOWN_MARKS = timedelta(days=7)


def records_purge(now=None) -> dict:
    now = now or timezone.now()
    return {
        "calls": ApiCall.objects.filter(at__lt=now - API_CALLS).delete()[0],
        "messages": ProcessedMessage.objects.filter(processed_at__lt=now - PROCESSED_MESSAGES).delete()[0],
        "pushed_messages": PushedMessage.objects.filter(handled_at__lt=now - PUSHED_MESSAGES).delete()[0]
        + PushedMessage.objects.filter(handled_at=None, received_at__lt=now - PUSHED_UNHANDLED).delete()[0],
        "runs": SyncRun.objects.filter(started_at__lt=now - RUNS).delete()[0],
        "connection_tests": ConnectionTest.objects.filter(requested_at__lt=now - CONNECTION_TESTS).delete()[0],
        **notifications_purge(now),
    }


def notifications_purge(now) -> dict:
    from django.conf import settings

    cooldown = max(COOLDOWN_MARKS, timedelta(seconds=settings.NOTIFY_COOLDOWN_SECONDS))
    return {
        "notifications": Notification.objects.filter(created_at__lt=now - NOTIFICATIONS).delete()[0],
        "test_deliveries": Delivery.objects.filter(notification__isnull=True,
                                                   created_at__lt=now - TEST_DELIVERIES).delete()[0],
        "cooldown_marks": NotificationCooldown.objects.filter(last_at__lt=now - cooldown).delete()[0],
        # NotificationRead and NotificationCursor need no purge: reads go with their notification, a cursor is
        # one row per user.
    }
