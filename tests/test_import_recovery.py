"""Imports recover by themselves: the periodic recovery (config/cron.py, every minute) takes up a step lost
with Redis or with its worker, and the import's page says what happened, in the merchant's words."""
from datetime import timedelta

import django_rq
import pytest
import rq
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rq.job import Job, JobStatus

from merchant import jobs
from merchant.models import ImportInterruption, ImportJob, ImportStatus, Product
from merchant.permissions import Actor
from merchant.services import imports
from merchant.spreadsheets.imports import pipeline

from .factories import ProductFactory

pytestmark = pytest.mark.usefixtures("english_pages")


@pytest.fixture
def queue(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    q = django_rq.get_queue("imports")
    q.empty()
    yield q
    q.empty()


@pytest.fixture
def stocked(merchant_a):
    return ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=5)


def _uploaded(merchant, user, capture) -> ImportJob:
    """An uploaded stock import (P-1 -> 40); its check job is sent to the queue."""
    with capture(execute=True):
        return imports.import_upload(merchant=merchant, kind="stock", actor=Actor.for_user(user),
                                     uploaded_file=SimpleUploadedFile("s.csv", b"erp_product_id,stock\nP-1,40\n"))


def _lose_in_redis(queue, job, step):
    Job.fetch(imports.step_job_id(job.pk, step), connection=queue.connection).delete()
    queue.empty()


def _minutes_ago(minutes):
    return timezone.now() - timedelta(minutes=minutes)


def _recover(capture):
    with capture(execute=True):  # what the recovery queues is sent on commit
        return jobs.imports_recover()


def _work_off(queue):
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _local(when) -> str:
    return timezone.localtime(when).strftime("%H:%M")


def test_a_queued_import_whose_job_was_lost_is_queued_again(queue, stocked, owner, client_owner,
                                                            django_capture_on_commit_callbacks):
    job = _uploaded(stocked.merchant, owner, django_capture_on_commit_callbacks)
    _lose_in_redis(queue, job, "check")  # Redis was flushed: the check's job is gone
    assert _recover(django_capture_on_commit_callbacks) == {}  # just uploaded: its job may still be on its way
    ImportJob.objects.filter(pk=job.pk).update(created_at=_minutes_ago(2))

    assert _recover(django_capture_on_commit_callbacks) == {ImportInterruption.REQUEUED: 1}
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED and job.restarts == 1
    rq_job = Job.fetch(imports.step_job_id(job.pk, "check"), connection=queue.connection)
    assert rq_job.get_status() == JobStatus.QUEUED
    _work_off(queue)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW and job.changed_count == 1
    page = client_owner.get(job.get_absolute_url()).content.decode()
    assert (f"The check had not started when its place in the queue was lost; it was queued again at "
            f"{_local(job.interrupted_at)}.") in page


def test_a_check_whose_worker_died_restarts_from_the_stored_file(queue, stocked, owner, client_owner,
                                                                 django_capture_on_commit_callbacks):
    job = _uploaded(stocked.merchant, owner, django_capture_on_commit_callbacks)
    # A worker took the check, then was killed: the lease it renewed every chunk has lapsed.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATING, lease_token="dead-worker",
                                               step_started_at=_minutes_ago(10), lease_until=_minutes_ago(1))
    queue.empty()
    ImportJob.objects.create(merchant=stocked.merchant, kind="stock", file_name="alive.csv", file_format="csv",
                             status=ImportStatus.VALIDATING, step_started_at=_minutes_ago(10),
                             lease_token="alive", lease_until=timezone.now() + timedelta(minutes=1))

    assert _recover(django_capture_on_commit_callbacks) == {ImportInterruption.CHECK_RESTARTED: 1}
    assert ImportJob.objects.get(file_name="alive.csv").status == ImportStatus.VALIDATING  # its worker is alive
    _work_off(queue)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW and job.changed_count == 1 and job.restarts == 1
    page = client_owner.get(job.get_absolute_url()).content.decode()
    assert f"The check was interrupted and restarted at {_local(job.interrupted_at)}." in page


def test_a_worker_given_up_on_cannot_write_over_the_next_attempt(queue, stocked, owner,
                                                                 django_capture_on_commit_callbacks):
    job = _uploaded(stocked.merchant, owner, django_capture_on_commit_callbacks)
    validation = pipeline.Validation(job)
    validation.token = "frozen-worker"  # its lease lapsed and the recovery gave the check to a new attempt
    with pytest.raises(pipeline.LeaseLost):
        validation.run()
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.QUEUED and not job.rows.exists()


def test_checks_interrupted_too_often_fail_with_the_reason(settings, queue, stocked, owner, client_owner,
                                                           django_capture_on_commit_callbacks):
    settings.IMPORT_MAX_RESTARTS = 2
    job = _uploaded(stocked.merchant, owner, django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATING, lease_token="dead", restarts=2,
                                               lease_until=_minutes_ago(1))
    assert _recover(django_capture_on_commit_callbacks) == {ImportInterruption.GAVE_UP: 1}
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    page = client_owner.get(job.get_absolute_url()).content.decode()
    assert (f"The check was interrupted 2 times, the last time at {_local(job.interrupted_at)}, and was given up. "
            f"Upload the file again; if this keeps happening, split it into smaller files or contact support with "
            f"import number {job.pk}.") in page


def _confirmed(queue, stocked, owner, capture) -> ImportJob:
    job = _uploaded(stocked.merchant, owner, capture)
    _work_off(queue)
    with capture(execute=True):
        imports.import_confirm(job=ImportJob.objects.get(pk=job.pk), actor=Actor.for_user(owner))
    return ImportJob.objects.get(pk=job.pk)


def test_an_apply_whose_worker_was_killed_goes_back_to_review_having_changed_nothing(
        queue, stocked, owner, client_owner, django_capture_on_commit_callbacks):
    job = _confirmed(queue, stocked, owner, django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.APPLYING
    # The worker took the apply (its lease) and its work horse was killed: RQ marked the job failed.
    ImportJob.objects.filter(pk=job.pk).update(lease_token="killed", lease_until=timezone.now() + timedelta(hours=1),
                                               step_started_at=_minutes_ago(3))
    rq_job = Job.fetch(imports.step_job_id(job.pk, "apply"), connection=queue.connection)
    assert _recover(django_capture_on_commit_callbacks) == {}  # still queued: it will run
    rq_job.set_status(JobStatus.FAILED)

    assert _recover(django_capture_on_commit_callbacks) == {ImportInterruption.APPLY_INTERRUPTED: 1}
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW and job.lease_token == ""
    assert Product.objects.get(pk=stocked.pk).stock == 5
    page = client_owner.get(job.get_absolute_url()).content.decode()
    assert (f"Applying was interrupted at {_local(job.interrupted_at)} and nothing was changed. Check the change "
            f"set and confirm again to apply it.") in page
    assert 'id="confirm-form"' in page


def test_an_apply_whose_lease_lapsed_goes_back_to_review(queue, stocked, owner, django_capture_on_commit_callbacks):
    job = _confirmed(queue, stocked, owner, django_capture_on_commit_callbacks)
    _lose_in_redis(queue, job, "apply")  # no word from Redis, but the apply's lease (its time limit) has lapsed
    ImportJob.objects.filter(pk=job.pk).update(lease_token="gone", lease_until=_minutes_ago(1),
                                               step_started_at=_minutes_ago(40))
    assert _recover(django_capture_on_commit_callbacks) == {ImportInterruption.APPLY_INTERRUPTED: 1}
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW


def test_an_apply_given_up_on_while_it_ran_rolls_back(queue, stocked, owner, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    job = _confirmed(queue, stocked, owner, django_capture_on_commit_callbacks)
    report = pipeline.progress_report

    def recovery_meanwhile(job_id, step, *args):
        # While the apply's transaction is open, the recovery takes its lease away (in production from another
        # connection, which this one sees on its next statement; here in the same transaction, so the rollback
        # below also undoes this stand-in).
        ImportJob.objects.filter(pk=job_id).update(status=ImportStatus.PREVIEW, lease_token="")
        report(job_id, step, *args)

    monkeypatch.setattr(pipeline, "progress_report", recovery_meanwhile)
    _work_off(queue)  # the apply job
    assert Product.objects.get(pk=stocked.pk).stock == 5  # nothing landed behind the merchant's back
    assert ImportJob.objects.get(pk=job.pk).status != ImportStatus.APPLIED
