"""A sync run's life: claim the (connection, module) lease, record the run (its counts saved as it goes),
release, and on a permanent error stop the connection's jobs and say why (instead of retrying forever).
A run whose worker died is closed as interrupted by the dispatcher (runs_close_interrupted)."""
import logging
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rq.timeouts import JobTimeoutException

from merchant.models import NotificationEvent
from merchant.services.notifications import notify

from .breaker import breaker_after_run
from .calls import CallCounter
from .errors import Permanent, SessionExpired, failure_text
from .models import Checkpoint, Connection, ConnectionKind, RunOutcome, SyncModule, SyncRun

log = logging.getLogger(__name__)

# A run renews its lease after every window; a worker killed mid-run frees the module after this long.
LEASE = timedelta(minutes=2)
MAX_ERRORS_KEPT = 20
# The message consumer records each hour of its work as one run (sync.consumer).
MESSAGE_RUN_SPAN = timedelta(hours=1)
MESSAGE_RUN_GRACE = timedelta(minutes=10)
# Saved on every lease renewal, so a run whose worker dies keeps the counts of what it wrote.
PROGRESS_FIELDS = ("windows", "calls", "failed_calls", "fetched", "created", "updated", "unchanged", "errors",
                   "window_from", "window_to")


def _worker_gone() -> str:
    # In the site's language, as the runs' other errors (the dispatcher has no reader to ask).
    return _("The worker running this stopped before it finished; what it saved is kept and the next run "
             "continues from there.")


class LeaseTaken(Exception):
    """Another run of the same (connection, module) is in progress."""


def checkpoint_for(connection, module: str) -> Checkpoint:
    checkpoint, _created = Checkpoint.objects.get_or_create(connection=connection, module=module)
    return checkpoint


class Run:
    """What a pipeline reports into while it works."""

    def __init__(self, connection, module, record: SyncRun, checkpoint: Checkpoint, token: str):
        self.connection = connection
        self.module = module
        self.record = record
        self.checkpoint = checkpoint
        self.token = token
        self.counter = CallCounter()

    def add(self, counts) -> None:
        self.record.created += counts.created
        self.record.updated += counts.updated
        self.record.unchanged += counts.unchanged

    def error(self, message: str) -> None:
        if len(self.record.errors) < MAX_ERRORS_KEPT:
            self.record.errors.append(message[:500])

    def renew(self) -> None:
        """Extend the lease and save the counts so far; raises LeaseTaken if the lease was lost (expired and
        taken by another run) or the run was closed as interrupted meanwhile."""
        now = timezone.now()
        claimed = Checkpoint.objects.filter(pk=self.checkpoint.pk, lease_token=self.token).update(
            lease_until=now + LEASE
        )
        if not claimed:
            raise LeaseTaken(f"lease on {self.module} for connection {self.connection.pk} was lost")
        self.save_progress()

    def move_checkpoint(self, position) -> None:
        """Save the end of a completed window (only ever forward), and the counts so far."""
        self.checkpoint.position = position
        Checkpoint.objects.filter(pk=self.checkpoint.pk, lease_token=self.token).update(
            position=position, lease_until=timezone.now() + LEASE
        )
        self.save_progress()

    def save_progress(self) -> None:
        """Store the counts so far (one UPDATE); raises LeaseTaken when the run is no longer running: the
        dispatcher closed it because its lease had lapsed, and a closed run is never reopened."""
        self.record.calls, self.record.failed_calls = self.counter.calls, self.counter.failed
        saved = SyncRun.objects.filter(pk=self.record.pk, outcome=RunOutcome.RUNNING).update(
            **{name: getattr(self.record, name) for name in PROGRESS_FIELDS})
        if not saved:
            raise LeaseTaken(f"the {self.module} run {self.record.pk} was closed as interrupted")

    def summary(self) -> dict:
        return run_summary(self.record)


def run_summary(r: SyncRun) -> dict:
    """The one-line summary the CLI prints and jobs return."""
    return {
        "run": r.pk, "connection": r.connection_id, "module": r.module, "mode": r.mode, "outcome": r.outcome,
        "windows": r.windows, "calls": r.calls, "failed_calls": r.failed_calls, "fetched": r.fetched,
        "created": r.created, "updated": r.updated, "unchanged": r.unchanged, "errors": r.errors,
    }


def _claim(checkpoint: Checkpoint) -> str | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = Checkpoint.objects.filter(pk=checkpoint.pk).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    ).update(lease_until=now + LEASE, lease_token=token, last_run_at=now)
    return token if claimed else None


def stop_reason(exc: Permanent, connection: Connection | None = None) -> str:
    """What the owner reads when a permanent error stopped the connection's jobs."""
    if connection is not None and connection.kind == ConnectionKind.ERP:
        what = _("The ERP bridge refused the connection's settings; check the base URL, key and secret")
    elif isinstance(exc, SessionExpired):
        what = _("The marketplace session has expired or is invalid; update the session token to resume")
    else:
        what = _("The marketplace refused the connection's settings")
    return f"{what}: {exc}"


def connection_stop(connection: Connection, reason: str) -> None:
    """Stop the jobs of `connection` until the owner fixes it (shown on the dashboard and its page), and notify
    the merchant the first time (a connection already stopped is not notified again)."""
    with transaction.atomic():
        newly = Connection.objects.filter(pk=connection.pk, stopped_reason="").exists()
        Connection.objects.filter(pk=connection.pk).update(
            stopped_reason=reason[:300], last_error=reason[:500], last_error_at=timezone.now()
        )
        if newly:
            notify(merchant=connection.merchant_id, event=NotificationEvent.CONNECTION_STOPPED,
                   subject_key=f"connection:{connection.pk}",
                   title=_("Connection %(name)s stopped") % {"name": connection.name}, body=reason,
                   url=connection.get_absolute_url())
    connection.stopped_reason = reason[:300]


@contextmanager
def run_of(connection: Connection, module: str, *, mode: str = "", trigger: str = "schedule"):
    """Yield a Run holding the module's lease; raises LeaseTaken when another run holds it.
    Records the outcome; a Permanent error stops the connection and is not re-raised."""
    checkpoint = checkpoint_for(connection, module)
    token = _claim(checkpoint)
    if token is None:
        raise LeaseTaken(f"another {module} run is in progress for connection {connection.pk}")
    checkpoint.refresh_from_db()
    record = SyncRun.objects.create(
        connection=connection, module=module, mode=mode, trigger=trigger, started_at=timezone.now(),
        lease_token=token,
    )
    run = Run(connection, module, record, checkpoint, token)
    try:
        yield run
        record.outcome = RunOutcome.OK
    except JobTimeoutException:
        # RQ's hard limit (SYNC_JOB_TIMEOUT): what was saved stays; the next run continues from the checkpoint.
        record.outcome = RunOutcome.INTERRUPTED
        seconds = settings.SYNC_JOB_TIMEOUT
        run.error(ngettext(
            "Stopped at the time limit of %(seconds)d second; what it saved is kept and the next run continues "
            "from there.",
            "Stopped at the time limit of %(seconds)d seconds; what it saved is kept and the next run continues "
            "from there.", seconds) % {"seconds": seconds})
        raise
    except LeaseTaken:
        # Lost the lease half way (this worker stalled past it, and the run was closed or taken over).
        record.outcome = RunOutcome.INTERRUPTED
        run.error(_worker_gone())
        raise
    except Permanent as exc:
        record.outcome = RunOutcome.STOPPED
        run.error(str(exc))
        connection_stop(connection, stop_reason(exc, connection))
        log.warning("connection %s stopped: %s", connection.pk, exc)
    except BaseException as exc:
        record.outcome = RunOutcome.FAILED
        run.error(failure_text(exc))
        Connection.objects.filter(pk=connection.pk).update(last_error=str(exc)[:500], last_error_at=timezone.now())
        raise
    finally:
        record.finished_at = timezone.now()
        record.calls = run.counter.calls
        record.failed_calls = run.counter.failed
        ended = SyncRun.objects.filter(pk=record.pk, outcome=RunOutcome.RUNNING).update(
            outcome=record.outcome, finished_at=record.finished_at,
            **{name: getattr(record, name) for name in PROGRESS_FIELDS})
        if not ended:
            record.refresh_from_db()  # closed as interrupted meanwhile: that is what happened, and it stays
        Checkpoint.objects.filter(pk=checkpoint.pk, lease_token=token).update(lease_until=None, lease_token="")
        if record.outcome == RunOutcome.OK:
            Connection.objects.filter(pk=connection.pk).update(last_success_at=record.finished_at)
        # Failed runs count most: judge the breaker after every run, however it ended.
        breaker_after_run(connection, record)


def runs_close_interrupted(now=None) -> int:
    """Close the runs whose worker is gone, as interrupted, with the counts they saved: their checkpoint no
    longer holds their lease (it lapsed, or another run took it over). A lapsed lease is freed. Returns how
    many were closed. The message channel's runs hold no lease: they are closed once far past their span."""
    now = now or timezone.now()
    alive = Checkpoint.objects.filter(connection=OuterRef("connection"), module=OuterRef("module"),
                                      lease_token=OuterRef("lease_token"), lease_until__gte=now)
    closed = 0
    # The message consumer holds no lease: a live one closes its run after MESSAGE_RUN_SPAN and opens the next, so
    # a messages run still open well past that span lost its process.
    gone_consumers = SyncRun.objects.filter(outcome=RunOutcome.RUNNING, lease_token="", module=SyncModule.MESSAGES,
                                            started_at__lt=now - MESSAGE_RUN_SPAN - MESSAGE_RUN_GRACE)
    for run in gone_consumers:
        closed += SyncRun.objects.filter(pk=run.pk, outcome=RunOutcome.RUNNING).update(
            outcome=RunOutcome.INTERRUPTED, finished_at=now, errors=run.errors[:MAX_ERRORS_KEPT - 1] + [_worker_gone()])
    for run in SyncRun.objects.filter(outcome=RunOutcome.RUNNING).exclude(lease_token="").exclude(Exists(alive)):
        errors = run.errors[:MAX_ERRORS_KEPT - 1] + [_worker_gone()]
        closed += SyncRun.objects.filter(pk=run.pk, outcome=RunOutcome.RUNNING).update(
            outcome=RunOutcome.INTERRUPTED, finished_at=now, errors=errors)
        Checkpoint.objects.filter(connection_id=run.connection_id, module=run.module, lease_token=run.lease_token,
                                  lease_until__lt=now).update(lease_until=None, lease_token="")
    if closed:
        log.warning("closed %s sync runs whose worker was gone as interrupted", closed)
    return closed
