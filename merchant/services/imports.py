"""Imports (SPEC M4): upload -> checked in the background -> reviewed -> applied, each step a service."""
import logging
import os
from datetime import datetime
from functools import partial

import django_rq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from merchant.models import AuditSource, ImportJob, ImportKind, ImportStatus
from merchant.permissions import Action, Actor
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.reader import ImportFileError, sniff_format

log = logging.getLogger(__name__)

QUEUE = "imports"
JOB_TIMEOUT = 2 * 3600


def _enqueue(function: str, *args, **kwargs) -> None:
    # The worker writes row errors in the language of the person who started the step.
    kwargs.setdefault("language", translation.get_language() or settings.LANGUAGE_CODE)
    django_rq.get_queue(QUEUE).enqueue(function, *args, job_timeout=JOB_TIMEOUT, **kwargs)


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
        transaction.on_commit(partial(_enqueue, "merchant.jobs.import_validate", job.pk))
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
        applied_by=actor.user if getattr(actor.user, "pk", None) else None,
    )
    if not claimed:
        raise ValidationError(_("This import is not waiting for confirmation any more."))
    transaction.on_commit(partial(
        _enqueue, "merchant.jobs.import_apply", job.pk, valid_only=valid_only, pause_kinds=list(pause_kinds),
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
            status=ImportStatus.PREVIEW,
            error=_("Applying stopped before it finished, and nothing was changed. Confirm again to apply."))
    else:
        claimed = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=ImportStatus.QUEUED, step_started_at=timezone.now())
        if claimed:
            transaction.on_commit(partial(_enqueue, "merchant.jobs.import_validate", job.pk))
    job.refresh_from_db()
    return job


def import_apply_claimed(
    *, job: ImportJob, actor: Actor, valid_only: bool = False, pause_kinds=(), pause_until: datetime | None = None,
) -> dict:
    """Apply a change set whose status is already "applying" (claimed by import_confirm or the CLI) and record
    the outcome on the job. Returns the pipeline's counts, or {"status": "preview", "error": ...} when a row
    is no longer valid (nothing written). Other errors put the job back to review and are raised."""
    try:
        result = pipeline.apply(job, actor=actor, valid_only=valid_only, pause_kinds=pause_kinds,
                                pause_until=pause_until)
    except pipeline.StaleChangeSet as stale:
        first = stale.args[0][0]
        reasons = "; ".join(f"{field or _('row')}: {reason}" for field, reason in first.errors.items())
        message = _("Nothing was applied: row %(row)d is no longer valid (%(reason)s); the data changed since the "
                    "check. Upload the file again to check it against the current data.") % {
            "row": first.ref, "reason": reasons}
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.PREVIEW, error=message)
        return {"status": ImportStatus.PREVIEW, "error": message}
    except Exception:
        log.exception("import %s: apply failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.PREVIEW,
            error=_("The import could not be applied because of an internal error; nothing was changed."))
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.APPLIED, applied_at=timezone.now(), applied_count=result["applied"],
        skipped_count=result["skipped"], error="",
    )
    return result


def import_actor(user, role) -> Actor:
    """Changes an import makes are audited with source "import" and the user who confirmed it."""
    return Actor(source=AuditSource.IMPORT, user=user, role=role)
