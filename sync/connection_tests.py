""""Test the connection" (SPEC M12) as queued work: the web request stores a ConnectionTest and enqueues it on
the sync queue; a worker makes the one outbound call and stores a fixed outcome text; the connection page
shows the progress from the row. A web thread never waits on a gateway."""
import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from merchant.models import AuditSource
from merchant.permissions import Action, Actor

from .erp.client import ErpClient
from .marketplaces import client_for
from .models import Connection, ConnectionKind, ConnectionTest, ConnectionTestStatus

log = logging.getLogger(__name__)


def connection_test_request(*, connection: Connection, actor: Actor, language: str = "") -> ConnectionTest:
    """Queue a test of `connection` (its kind decides the call); returns the queued ConnectionTest."""
    import django_rq

    from . import jobs

    actor.require(Action.CONNECTIONS)
    test = ConnectionTest.objects.create(connection=connection, requested_by=actor.user,
                                         requested_at=timezone.now(), language=language[:16])
    # Inside a transaction django-rq sends the job on commit; the row exists by then.
    django_rq.get_queue("sync").enqueue(jobs.connection_test_run, test.pk, job_id=f"connection-test-{test.pk}",
                                        job_timeout=settings.SYNC_JOB_TIMEOUT)
    return test


def connection_test_run(*, test_id: int, market_client=client_for, erp_client=ErpClient) -> ConnectionTest | None:
    """Run a queued test once (the claim is a conditional update, so a redelivered job does nothing); returns
    the finished test, or None when it was not queued any more."""
    from .erp.services import erp_connection_test
    from .services import TestResult, connection_test

    claimed = ConnectionTest.objects.filter(pk=test_id, status=ConnectionTestStatus.QUEUED).update(
        status=ConnectionTestStatus.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    test = ConnectionTest.objects.select_related("connection").get(pk=test_id)
    # The owner who asked was checked when asking; the worker acts for them.
    actor = Actor.system(AuditSource.SYSTEM, user=test.requested_by)
    with translation.override(test.language or settings.LANGUAGE_CODE):
        try:
            if test.connection.kind == ConnectionKind.ERP:
                result = erp_connection_test(connection=test.connection, actor=actor, client_factory=erp_client)
            else:
                result = connection_test(connection=test.connection, actor=actor, client_factory=market_client)
        except Exception:
            log.exception("connection test %s failed", test_id)
            result = TestResult(False, _("The test could not be run. Try again later."))
    test.status = ConnectionTestStatus.OK if result.ok else ConnectionTestStatus.FAILED
    test.message = result.message[:300]
    test.finished_at = timezone.now()
    test.save(update_fields=["status", "message", "finished_at"])
    return test


def connection_test_latest(connection: Connection) -> ConnectionTest | None:
    return ConnectionTest.objects.filter(connection=connection).order_by("-requested_at", "-id").first()


def connection_test_stalled(test: ConnectionTest, now=None) -> bool:
    """No worker has picked the test up (or the one running it died) for longer than it can take."""
    now = now or timezone.now()
    wait = timedelta(seconds=settings.CONNECTION_TEST_STALE_SECONDS)
    if test.status == ConnectionTestStatus.QUEUED:
        return test.requested_at < now - wait
    if test.status == ConnectionTestStatus.RUNNING and test.started_at:
        return test.started_at < now - wait - timedelta(seconds=settings.OUTBOUND_TOTAL_TIMEOUT)
    return False
