"""How long sync's records are kept."""
from datetime import timedelta

from django.utils import timezone

from .models import ApiCall, ConnectionTest, ProcessedMessage, SyncRun

API_CALLS = timedelta(days=7)
# The marketplace keeps undelivered messages 24 h, so ids older than that cannot come again.
PROCESSED_MESSAGES = timedelta(days=3)
RUNS = timedelta(days=30)
# Only the latest tests are shown; a week is plenty to look back at what a test said.
CONNECTION_TESTS = timedelta(days=7)


def records_purge(now=None) -> dict:
    now = now or timezone.now()
    return {
        "calls": ApiCall.objects.filter(at__lt=now - API_CALLS).delete()[0],
        "messages": ProcessedMessage.objects.filter(processed_at__lt=now - PROCESSED_MESSAGES).delete()[0],
        "runs": SyncRun.objects.filter(started_at__lt=now - RUNS).delete()[0],
        "connection_tests": ConnectionTest.objects.filter(requested_at__lt=now - CONNECTION_TESTS).delete()[0],
    }
