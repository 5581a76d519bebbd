"""RQ entry points for the back office's own background work: load by id, call the pipeline."""
from django.utils import translation
from django.utils.dateparse import parse_datetime

from merchant.models import ImportJob, ImportStatus
from merchant.services.imports import import_actor, import_apply_claimed
from merchant.spreadsheets.imports import pipeline


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
    return import_apply_claimed(job=job, actor=actor, valid_only=valid_only, pause_kinds=pause_kinds,
                                pause_until=until)
