"""Imports (SPEC M4): upload -> checked in the background -> reviewed -> applied, each step a service."""
import logging
import os
import uuid
from datetime import datetime, timedelta
from functools import partial

import django_rq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.timeouts import JobTimeoutException

from merchant.models import AuditSource, ImportInterruption, ImportJob, ImportKind, ImportStatus
from merchant.permissions import Action, Actor
from merchant.services.notifications import import_outcome_notify
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.columns import KIND_COLUMNS
from merchant.spreadsheets.imports.reader import ImportFileError, sniff_format

log = logging.getLogger(__name__)

QUEUE = "imports"
CHECK, APPLY = "check", "apply"
STEP_JOBS = {CHECK: "merchant.jobs.import_validate", APPLY: "merchant.jobs.import_apply"}
# RQ job states in which the step's job will still run (or is running).
WAITING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
# A queued step's job is sent on commit; give it this long to show up in Redis before calling it lost.
QUEUED_GRACE = timedelta(minutes=1)
# After RQ's time limit a work horse that ignored it is killed 60 s later: an apply's lease covers both.
APPLY_LEASE_MARGIN = timedelta(seconds=90)


def step_job_id(job_pk: int, step: str) -> str:
    """One RQ job id per (import, step), so the recovery can ask whether the step's job still exists."""
    return f"import-{job_pk}-{step}"


def _enqueue(step: str, job_pk: int, **kwargs) -> None:
    # The worker writes row errors in the language of the person who started the step.
    kwargs.setdefault("language", translation.get_language() or settings.LANGUAGE_CODE)
    queue = django_rq.get_queue(QUEUE)
    job_id = step_job_id(job_pk, step)
    try:
        Job.fetch(job_id, connection=queue.connection).delete()  # a finished or failed earlier attempt
    except NoSuchJobError:
        pass
    # The hard limit (IMPORT_JOB_TIMEOUT): RQ stops the step past it; the job records why.
    queue.enqueue(STEP_JOBS[step], job_pk, job_id=job_id, job_timeout=settings.IMPORT_JOB_TIMEOUT,
                  result_ttl=3600, failure_ttl=86400, **kwargs)


def import_upload(*, merchant, kind: str, uploaded_file, actor: Actor) -> ImportJob:
    """Store an uploaded file as a new import and queue its check. Raises ValidationError for a file that is
    not one we take (wrong type, too large) or PermissionDenied."""
    actor.require(Action.EDIT)
    if kind not in ImportKind.values:
        raise ValidationError({"kind": _("Unknown import kind.")})
    try:
        file_format = sniff_format(uploaded_file.name)
    except ImportFileError as error:
        raise ValidationError({"file": str(error)}) from None
    if uploaded_file.size > settings.IMPORT_MAX_BYTES:
        raise ValidationError({"file": _("The file is %(size)d MB, more than the %(max)d MB allowed.") % {
            "size": uploaded_file.size // 2**20, "max": settings.IMPORT_MAX_BYTES // 2**20}})
    if uploaded_file.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    with transaction.atomic():
        job = ImportJob(
            merchant=merchant, kind=kind, file_name=os.path.basename(uploaded_file.name)[:200],
            file_format=file_format, file_size=uploaded_file.size,
            uploaded_by=actor.user if getattr(actor.user, "pk", None) else None,
        )
        job.file.save(job.file_name, uploaded_file, save=False)
        job.save()
        transaction.on_commit(partial(_enqueue, CHECK, job.pk))
    return job


def import_confirm(
    *, job: ImportJob, actor: Actor, valid_only: bool = False, pause_kinds=(), pause_until: datetime | None = None,
) -> ImportJob:
    """Queue the application of a reviewed change set. Raises ValidationError when it cannot be applied
    as asked (not ready, or invalid rows and valid_only off) or PermissionDenied."""
    actor.require(Action.EDIT)
    if pause_kinds:
        actor.require(Action.SKU_SWITCH)
        if pause_until is not None and pause_until <= timezone.now():
            raise ValidationError({"pause_until": _("The end of a pause must be in the future.")})
    if job.invalid_count and not valid_only:
        raise ValidationError(_("%(count)d rows are invalid: fix them and upload the file again, or choose to "
                                "apply the valid rows only.") % {"count": job.invalid_count})
    # A batch file whose rows are all unchanged may still remove stale batches (a full replace).
    replaces = job.kind == ImportKind.BATCHES and job.unchanged_count
    if not (job.new_count or job.changed_count or replaces):
        raise ValidationError(_("Nothing to apply: no row adds or changes anything."))
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PREVIEW).update(
        status=ImportStatus.APPLYING, valid_only=valid_only, step_started_at=timezone.now(), error="",
        applied_by=actor.user if getattr(actor.user, "pk", None) else None, interruption="",
        lease_until=None, lease_token="",
    )
    if not claimed:
        raise ValidationError(_("This import is not waiting for confirmation any more."))
    transaction.on_commit(partial(
        _enqueue, APPLY, job.pk, valid_only=valid_only, pause_kinds=list(pause_kinds),
        pause_until=pause_until.isoformat() if pause_until else None,
    ))
    job.refresh_from_db()
    return job


def import_cancel(*, job: ImportJob, actor: Actor) -> ImportJob:
    """Drop an import that has not been applied; its change set and file are deleted."""
    actor.require(Action.EDIT)
    claimed = ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportStatus.PREVIEW, ImportStatus.FAILED, ImportStatus.QUEUED]
    ).update(status=ImportStatus.CANCELLED)
    if not claimed:
        raise ValidationError(_("This import can no longer be cancelled."))
    job.rows.all().delete()
    job.file.delete(save=False)
    job.refresh_from_db()
    return job


STALL_SECONDS = 600  # progress is reported every chunk (seconds apart); this long silent means the worker died


def import_stalled(job: ImportJob, progress: dict | None) -> bool:
    """Whether a running step has shown no sign of life for STALL_SECONDS (its worker was killed or lost)."""
    if job.status not in (ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.APPLYING):
        return False
    last = (progress or {}).get("at")
    started = job.step_started_at or job.created_at
    since = timezone.now().timestamp() - max(last or 0, started.timestamp())
    return since > STALL_SECONDS


def import_restart(*, job: ImportJob, actor: Actor, progress: dict | None = None) -> ImportJob:
    """Start a stalled step again. A check restarts from the top; an apply, which runs in one transaction,
    wrote nothing when its worker died, so the change set goes back to review."""
    actor.require(Action.EDIT)
    if not import_stalled(job, progress):
        raise ValidationError(_("This import is still making progress; wait for it."))
    if job.status == ImportStatus.APPLYING:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.APPLYING).update(
            status=ImportStatus.PREVIEW, lease_until=None, lease_token="",
            error=_("Applying stopped before it finished, and nothing was changed. Confirm again to apply."))
    else:
        claimed = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=ImportStatus.QUEUED, step_started_at=timezone.now(), lease_until=None, lease_token="")
        if claimed:
            transaction.on_commit(partial(_enqueue, CHECK, job.pk))
    job.refresh_from_db()
    return job


MISSING = "missing"


def _step_job_state(job_pk: int, step: str) -> str | None:
    """The RQ status of the step's job, MISSING when Redis has none (flushed, expired), None when Redis cannot
    be asked (then nothing is recovered)."""
    try:
        connection = django_rq.get_queue(QUEUE).connection
        return Job.fetch(step_job_id(job_pk, step), connection=connection).get_status()
    except NoSuchJobError:
        return MISSING
    except RedisError:
        return None


def _check_again(job: ImportJob, now, what: str) -> str | None:
    """Queue the check of `job` again from its stored file (the check writes nothing but its change set, which
    it rebuilds from the start), or, past IMPORT_MAX_RESTARTS, fail it: a file that kills its worker every
    time would otherwise hold a worker forever. Returns what was done, None if the job moved meanwhile."""
    still = ImportJob.objects.filter(pk=job.pk, status=job.status, lease_token=job.lease_token)
    if job.restarts >= settings.IMPORT_MAX_RESTARTS:
        gave_up = still.update(status=ImportStatus.FAILED, interruption=ImportInterruption.GAVE_UP,
                               interrupted_at=now, lease_until=None, lease_token="", error="")
        if gave_up:
            job.rows.all().delete()
            import_outcome_notify(job=job, reason=str(ImportInterruption.GAVE_UP.label))
        return ImportInterruption.GAVE_UP if gave_up else None
    if not still.update(status=ImportStatus.QUEUED, step_started_at=now, restarts=job.restarts + 1,
                        interruption=what, interrupted_at=now, lease_until=None, lease_token="", error=""):
        return None
    transaction.on_commit(partial(_enqueue, CHECK, job.pk))
    return what


def imports_recover(*, now=None) -> dict:
    """Periodic (every minute, beside the sync dispatcher): imports whose step was lost are taken up again, as
    the dispatcher re-derives sync work, and the import's page says what happened.

    - queued, and its job is gone from Redis (flushed, or given up on): queued again;
    - checking, and the worker's lease lapsed (it renews it every chunk): the check restarts from the file;
    - applying, and its worker is gone (its job failed or vanished, or the lease of its time limit lapsed):
      back to review. The apply is one transaction, so nothing was written; it goes back rather than
      running again because the merchant confirmed a change set checked against the data of that moment,
      with pause choices that are not stored: they review it and confirm again, knowing nothing landed.

    Returns how many imports each action took, e.g. {"check_restarted": 1}."""
    now = now or timezone.now()
    done = {}

    def count(what):
        if what:
            done[what] = done.get(what, 0) + 1

    waited = ImportJob.objects.annotate(since=Coalesce("step_started_at", "created_at")).filter(
        since__lt=now - QUEUED_GRACE)
    for job in waited.filter(status=ImportStatus.QUEUED):
        if _step_job_state(job.pk, CHECK) not in (*WAITING, None):
            count(_check_again(job, now, ImportInterruption.REQUEUED))
    lease = timedelta(seconds=settings.IMPORT_LEASE_SECONDS)
    lapsed = Q(lease_until__lt=now) | Q(lease_until__isnull=True, step_started_at__lt=now - lease)
    for job in ImportJob.objects.filter(lapsed, status=ImportStatus.VALIDATING):
        count(_check_again(job, now, ImportInterruption.CHECK_RESTARTED))
    for job in waited.filter(status=ImportStatus.APPLYING):
        state = _step_job_state(job.pk, APPLY)
        if job.lease_token:
            # Started: gone when its job ended without recording the outcome (its work horse was killed), or
            # past its time limit. A job missing from Redis is not enough (the CLI applies without one).
            gone = state not in (*WAITING, MISSING, None) or (job.lease_until is not None and job.lease_until < now)
        else:
            gone = state not in (*WAITING, None)
        if gone:
            still = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.APPLYING, lease_token=job.lease_token)
            back = still.update(status=ImportStatus.PREVIEW, interruption=ImportInterruption.APPLY_INTERRUPTED,
                                interrupted_at=now, lease_until=None, lease_token="", error="")
            count(ImportInterruption.APPLY_INTERRUPTED if back else None)
    if done:
        log.warning("imports recovered after their worker was lost: %s", done)
    return done


def import_apply_claimed(
    *, job: ImportJob, actor: Actor, valid_only: bool = False, pause_kinds=(), pause_until: datetime | None = None,
) -> dict:
    """Apply a change set whose status is already "applying" (claimed by import_confirm or the CLI) and record
    the outcome on the job. Returns the pipeline's counts, or {"status": "preview", "error": ...} when a row
    is no longer valid (nothing written), or {"status": ..., "error": ...} when another worker holds the step
    or it was given up on meanwhile (nothing written). Other errors put the job back to review and are raised.

    The worker takes the step's lease for its whole time limit (its transaction cannot renew one that others
    see), and the outcome is recorded inside the apply's transaction only while the lease is still this
    worker's: an apply the recovery gave up on rolls back instead of landing behind the merchant's back."""
    token = uuid.uuid4().hex
    lease_until = timezone.now() + timedelta(seconds=settings.IMPORT_JOB_TIMEOUT) + APPLY_LEASE_MARGIN
    if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.APPLYING, lease_token="").update(
            lease_token=token, lease_until=lease_until):
        return {"status": ImportJob.objects.get(pk=job.pk).status,
                "error": _("This import is not waiting to be applied any more.")}
    mine = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.APPLYING, lease_token=token)

    def record_applied(result: dict) -> None:
        if not mine.update(status=ImportStatus.APPLIED, applied_at=timezone.now(), applied_count=result["applied"],
                           skipped_count=result["skipped"], stale_count=result.get("stale", 0), error="",
                           lease_until=None, lease_token=""):
            raise pipeline.LeaseLost(job.pk)
        import_outcome_notify(job=job, applied=result["applied"])

    def back_to_review(message: str) -> None:
        if mine.update(status=ImportStatus.PREVIEW, error=message, lease_until=None, lease_token=""):
            import_outcome_notify(job=job, reason=message)

    try:
        result = pipeline.apply(job, actor=actor, valid_only=valid_only, pause_kinds=pause_kinds,
                                pause_until=pause_until, finish=record_applied)
    except pipeline.StaleChangeSet as stale:
        first = stale.args[0][0]
        reasons = "; ".join(f"{_column_label(job.kind, field)}: {reason}" for field, reason in first.errors.items())
        message = _("Nothing was applied: row %(row)d is no longer valid (%(reason)s); the data changed since the "
                    "check. Upload the file again to check it against the current data.") % {
            "row": first.ref, "reason": reasons}
        back_to_review(message)
        return {"status": ImportStatus.PREVIEW, "error": message}
    except pipeline.LeaseLost:
        log.warning("import %s: this apply was given up on meanwhile; rolled back", job.pk)
        return {"status": ImportJob.objects.get(pk=job.pk).status,
                "error": _("This import is not waiting to be applied any more.")}
    except JobTimeoutException:
        back_to_review(_("Applying took longer than the limit of %(minutes)d minutes and was stopped; nothing was "
                         "changed. Split the file into smaller ones and upload them.")
                       % {"minutes": max(settings.IMPORT_JOB_TIMEOUT // 60, 1)})
        raise
    except Exception:
        log.exception("import %s: apply failed", job.pk)
        back_to_review(_("The import could not be applied because of an internal error; nothing was changed."))
        raise
    return result


def _column_label(kind: str, key: str) -> str:
    """A column as the merchant's header names it (in the language of the page), not by its key."""
    column = next((column for column in KIND_COLUMNS.get(kind, ()) if column.key == key), None)
    if column is None:
        return key or _("row")
    return column.zh if (translation.get_language() or "").startswith("zh") else column.en


def import_actor(user, role, *, revert: bool = False) -> Actor:
    """Changes an import makes are audited with source "import" (a revert's with "revert") and the user who
    confirmed it."""
    return Actor(source=AuditSource.REVERT if revert else AuditSource.IMPORT, user=user, role=role)


def import_recheck(*, job: ImportJob, actor: Actor) -> ImportJob:
    """Check an import's file again as a new import, against the data now in force: the way to include rows left
    out because their target changed after the preview."""
    actor.require(Action.EDIT)
    if not job.file or job.status not in (ImportStatus.APPLIED, ImportStatus.PREVIEW):
        raise ValidationError(_("This import's file cannot be checked again; upload it again."))
    with job.file.open("rb") as stored, transaction.atomic():
        again = ImportJob(merchant=job.merchant, kind=job.kind, file_name=job.file_name, file_format=job.file_format,
                          file_size=job.file_size, uploaded_by=actor.user if getattr(actor.user, "pk", None) else None)
        again.file.save(job.file_name, stored, save=False)
        again.save()
        transaction.on_commit(partial(_enqueue, CHECK, again.pk))
    return again
