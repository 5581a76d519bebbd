"""RQ entry points for the back office's own background work: load by id, call the pipeline."""
import logging

from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from merchant.models import ImportJob, ImportStatus
from merchant.services.imports import import_actor
from merchant.spreadsheets.imports import pipeline

log = logging.getLogger(__name__)


def import_validate(job_id: int, language: str | None = None) -> dict:
    job = ImportJob.objects.select_related("merchant").get(pk=job_id)
    with translation.override(language):
        pipeline.validate(job)
    return {"status": job.status, "rows": job.rows_total, "invalid": job.invalid_count}


def import_apply(job_id: int, valid_only: bool = False, pause_kinds=(), pause_until: str | None = None,
                 language: str | None = None) -> dict:
    with translation.override(language):
        return _apply(job_id, valid_only, pause_kinds, pause_until)


def _apply(job_id: int, valid_only: bool, pause_kinds, pause_until: str | None) -> dict:
    job = ImportJob.objects.select_related("merchant", "applied_by__membership").get(pk=job_id)
    if job.status != ImportStatus.APPLYING:
        return {"status": job.status}
    user = job.applied_by
    actor = import_actor(user, getattr(getattr(user, "membership", None), "role", None))
    until = parse_datetime(pause_until) if pause_until else None
    try:
        result = pipeline.apply(job, actor=actor, valid_only=valid_only, pause_kinds=pause_kinds, pause_until=until)
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
