"""RQ entry points for the back office's own background work: load by id, call the pipeline. A step whose
merchant has all its job slots busy is put back (merchant.job_slots), so imports of one merchant never
hold every worker."""
import logging

from django.conf import settings
from django.utils import translation
from django.utils.dateparse import parse_datetime

from merchant.api.auth import nonces_purge
from merchant.job_slots import deferred, merchant_slot
from merchant.models import ImportJob, ImportStatus, Merchant
from merchant.services.order_attention import order_attention_refresh, order_exceptions_notify
from merchant.services.imports import import_actor, import_apply_claimed, imports_recover as recover
from merchant.services.stock import stock_recompute_expired_batches
from merchant.services.switches import switches_resume_expired as switches_resume
from merchant.spreadsheets.imports import pipeline

log = logging.getLogger(__name__)


def import_validate(job_id: int, language: str | None = None):
    job = ImportJob.objects.select_related("merchant").get(pk=job_id)
    with merchant_slot(job.merchant_id) as held:
        if not held:
            return deferred()
        # No language given (a recovered or re-queued step): the site's, never the bare English source text.
        with translation.override(language or settings.LANGUAGE_CODE):
            pipeline.validate(job)
    return {"status": job.status, "rows": job.rows_total, "invalid": job.invalid_count}


def import_apply(job_id: int, valid_only: bool = False, pause_kinds=(), pause_until: str | None = None,
                 language: str | None = None):
    merchant_id = ImportJob.objects.filter(pk=job_id).values_list("merchant_id", flat=True).get()
    with merchant_slot(merchant_id) as held:
        if not held:
            return deferred()
        with translation.override(language or settings.LANGUAGE_CODE):
            return _apply(job_id, valid_only, pause_kinds, pause_until)


def _apply(job_id: int, valid_only: bool, pause_kinds, pause_until: str | None) -> dict:
    job = ImportJob.objects.select_related("merchant", "applied_by__membership").get(pk=job_id)
    if job.status != ImportStatus.APPLYING:
        return {"status": job.status}
    user = job.applied_by
    actor = import_actor(user, getattr(getattr(user, "membership", None), "role", None),
                         revert=job.reverts_id is not None)
    until = parse_datetime(pause_until) if pause_until else None
    return import_apply_claimed(job=job, actor=actor, valid_only=valid_only, pause_kinds=pause_kinds,
                                pause_until=until)


def imports_recover() -> dict:
    """Periodic (every minute): take up imports whose step was lost with its worker or with Redis."""
    return recover()


def orders_attention_sweep():
    """Every minute: each active merchant's orders' exception bits re-derived from the rules (the clock moves
    orders into the queue without anyone touching them); orders that newly need someone are notified."""
    newly = 0
    for merchant in Merchant.objects.filter(is_active=True).iterator():
        ids = order_attention_refresh(merchant=merchant)
        if ids:
            order_exceptions_notify(merchant=merchant, order_ids=ids)
        newly += len(ids)
    return {"newly_needing_attention": newly}


def switches_resume_expired() -> int:
    """Periodic: end time-boxed pauses whose until-time has passed and apply what was held."""
    resumed = switches_resume()
    if resumed:
        log.info("resumed %s expired switch pauses", resumed)
    return resumed


def batches_expire() -> int:
    """Periodic: batch-managed stock drops expired batches (SPEC M6), and products whose batches crossed the
    expiry exclusion window are told to the outside (merchant.changes)."""
    return stock_recompute_expired_batches()


def api_nonces_purge() -> int:
    """Periodic (hourly): Open API nonces old enough that their timestamps are refused anyway."""
    return nonces_purge()


def presale_freezes_expire() -> dict:
    """Every minute: presale freezes whose balance deadline passed are released (merchant.services.presale),
    whether or not the marketplace's close of the trade has reached us yet."""
    from merchant.services.presale import presale_freezes_expire as expire

    return {"released": expire()}


def notifications_scan() -> dict:
    """Periodic (hourly): notify products reaching low stock, batches entering the expiry window and stalled
    shipments (merchant.services.notification_scans)."""
    from merchant.services.notification_scans import notifications_scan as scan

    return scan()
