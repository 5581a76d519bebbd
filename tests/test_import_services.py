"""The import services (upload -> check in the background -> confirm -> apply) and their RQ jobs."""
from datetime import timedelta

import django_rq
import pytest
import rq
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from merchant import jobs
from merchant.models import AuditEntry, AuditSource, ImportJob, ImportRow, ImportStatus, Product, SkuSwitch
from merchant.permissions import Actor
from merchant.services.imports import import_cancel, import_confirm, import_upload
from merchant.spreadsheets.imports import pipeline

from .factories import MerchantFactory, ProductFactory, member
from .import_files import csv_bytes, make_job, xlsx_bytes

pytestmark = pytest.mark.usefixtures("english")

STOCK = [["erp_product_id", "stock"]]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def stocked(merchant_a):
    return [ProductFactory(merchant=merchant_a, erp_product_id=f"P-{i}", stock=1) for i in (1, 2)]


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def checked(merchant, rows, **upload_options):
    """A job checked by the pipeline, as the validate job leaves it."""
    job = make_job(merchant, "stock", xlsx_bytes(rows), **upload_options)
    pipeline.validate(job)
    job.refresh_from_db()
    return job


# --- upload ------------------------------------------------------------------------------------------------

def test_upload_stores_the_file_and_queues_its_check(merchant_a, operator, operator_actor,
                                                     django_capture_on_commit_callbacks):
    content = xlsx_bytes(STOCK + [["P-1", 5]])
    with django_capture_on_commit_callbacks() as callbacks:
        job = import_upload(merchant=merchant_a, kind="stock", uploaded_file=upload("../../etc/Stock.XLSX", content),
                            actor=operator_actor)
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.kind, job.file_name, job.file_format, job.file_size, job.uploaded_by) == (
        ImportStatus.QUEUED, "stock", "Stock.XLSX", "xlsx", len(content), operator)
    assert job.file.read() == content
    assert job.file.name.startswith(f"imports/{merchant_a.pk}/") and ".." not in job.file.name


@pytest.mark.parametrize("name, content, message", [
    ("notes.pdf", b"%PDF-1.4", "Upload an Excel or LibreOffice workbook (.xlsx, .xlsm, .xls, .ods) or a CSV file."),
    ("old.doc", b"\xd0\xcf\x11\xe0", "Upload an Excel or LibreOffice workbook"),
    ("empty.csv", b"", "The file is empty."),
])
def test_upload_refuses_other_file_types_and_empty_files(merchant_a, owner_actor, name, content, message):
    with pytest.raises(ValidationError) as raised:
        import_upload(merchant=merchant_a, kind="stock", uploaded_file=upload(name, content), actor=owner_actor)
    assert message in str(raised.value.message_dict["file"])
    assert not ImportJob.objects.exists()


def test_upload_refuses_a_file_over_the_size_limit(merchant_a, owner_actor, settings):
    settings.IMPORT_MAX_BYTES = 10
    with pytest.raises(ValidationError) as raised:
        import_upload(merchant=merchant_a, kind="stock", uploaded_file=upload("s.csv", b"x" * 11), actor=owner_actor)
    assert "more than the" in raised.value.message_dict["file"][0]
    assert not ImportJob.objects.exists()


def test_upload_refuses_an_unknown_kind_and_a_viewer(merchant_a, owner_actor, viewer_actor):
    with pytest.raises(ValidationError):
        import_upload(merchant=merchant_a, kind="orders", uploaded_file=upload("s.csv", b"a"), actor=owner_actor)
    with pytest.raises(PermissionDenied):
        import_upload(merchant=merchant_a, kind="stock", uploaded_file=upload("s.csv", b"a"), actor=viewer_actor)
    assert not ImportJob.objects.exists()


# --- confirm and cancel -----------------------------------------------------------------------------------

def test_confirm_refuses_invalid_rows_unless_valid_only(merchant_a, stocked, owner_actor,
                                                        django_capture_on_commit_callbacks):
    job = checked(merchant_a, STOCK + [["P-1", 5], ["P-2", -1]])
    with pytest.raises(ValidationError, match="1 rows are invalid"):
        import_confirm(job=job, actor=owner_actor)
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW

    with django_capture_on_commit_callbacks() as callbacks:
        job = import_confirm(job=job, actor=owner_actor, valid_only=True)
    assert (job.status, job.valid_only, len(callbacks)) == (ImportStatus.APPLYING, True, 1)
    with pytest.raises(ValidationError, match="not waiting for confirmation"):
        import_confirm(job=job, actor=owner_actor, valid_only=True)


def test_confirm_refuses_a_change_set_that_changes_nothing(merchant_a, stocked, owner_actor):
    job = checked(merchant_a, STOCK + [["P-1", 1]])
    with pytest.raises(ValidationError, match="Nothing to apply"):
        import_confirm(job=job, actor=owner_actor)


def test_confirm_checks_the_role_and_the_pause_end(merchant_a, stocked, viewer_actor, operator_actor):
    job = checked(merchant_a, STOCK + [["P-1", 5]])
    with pytest.raises(PermissionDenied):
        import_confirm(job=job, actor=viewer_actor)
    with pytest.raises(ValidationError, match="must be in the future"):
        import_confirm(job=job, actor=operator_actor, pause_kinds=["stock"],
                       pause_until=timezone.now() - timedelta(minutes=1))
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW


def test_cancel_drops_the_change_set_and_the_file(merchant_a, stocked, owner_actor):
    job = checked(merchant_a, STOCK + [["P-1", 5], ["P-2", -1]])
    path = job.file.path
    assert ImportRow.objects.filter(job=job).count() == 2
    job = import_cancel(job=job, actor=owner_actor)
    assert job.status == ImportStatus.CANCELLED
    assert not ImportRow.objects.filter(job=job).exists()
    assert not (job.file and job.file.storage.exists(path))
    with pytest.raises(ValidationError):
        import_confirm(job=job, actor=owner_actor)


# --- the RQ jobs -----------------------------------------------------------------------------------------------

def test_apply_job_on_a_stale_change_set_returns_it_to_review_with_the_row_and_writes_nothing(
        merchant_a, owner, owner_actor, stocked):
    job = checked(merchant_a, STOCK + [["P-1", 5], ["P-2", 6]])
    import_confirm(job=job, actor=owner_actor)
    stocked[1].delete()

    result = jobs.import_apply(job.pk, language="en")

    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW
    assert "row 3 is no longer valid" in job.error and "no product with this ERP product id" in job.error
    assert result == {"status": ImportStatus.PREVIEW, "error": job.error}
    assert Product.objects.get(pk=stocked[0].pk).stock == 1
    assert not AuditEntry.objects.exists()


def test_apply_job_that_fails_returns_the_change_set_to_review(merchant_a, owner_actor, stocked, monkeypatch):
    job = checked(merchant_a, STOCK + [["P-1", 5]])
    import_confirm(job=job, actor=owner_actor)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("merchant.services.bulk.stock.StockPlan.apply", broken)
    with pytest.raises(RuntimeError):
        jobs.import_apply(job.pk, language="en")
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW
    assert "internal error; nothing was changed" in job.error
    assert Product.objects.get(pk=stocked[0].pk).stock == 1


def test_apply_job_does_nothing_for_an_import_not_confirmed(merchant_a, stocked):
    job = checked(merchant_a, STOCK + [["P-1", 5]])
    assert jobs.import_apply(job.pk) == {"status": ImportStatus.PREVIEW}
    assert Product.objects.get(pk=stocked[0].pk).stock == 1


def test_validate_job_runs_once_and_reports_an_unreadable_file(merchant_a):
    job = make_job(merchant_a, "stock", b"\x00 not a csv", name="s.csv")
    assert jobs.import_validate(job.pk, language="en") == {"status": ImportStatus.FAILED, "rows": 0, "invalid": 0}
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "not a CSV text file" in job.error
    pipeline.validate(job)  # a second delivery of the same job finds it already checked
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED


# SimpleWorker runs the job in this process (no fork), so it shares the test's database; transaction=True
# makes the rows really committed and the job's own transaction a real one, as with a production worker.
@pytest.mark.django_db(transaction=True)
def test_upload_check_confirm_and_apply_run_through_the_queue(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "queue-media"
    merchant = MerchantFactory(code="queue-merchant")
    operator = member(merchant, "operator", username="queue-operator")
    actor = Actor.for_user(operator)
    synced = ProductFactory(merchant=merchant, erp_product_id="SYNCED", stock=1)
    paused = ProductFactory(merchant=merchant, erp_product_id="PAUSED", stock=1)
    SkuSwitch.objects.create(product=paused, kind="stock", enabled=False)
    queue = django_rq.get_queue("imports")
    queue.empty()
    content = csv_bytes([["ERP商品编码", "库存"], ["SYNCED", 30], ["PAUSED", 40], ["NEW", 1]], "gbk")

    job = import_upload(merchant=merchant, kind="stock", uploaded_file=upload("盘点.csv", content), actor=actor)
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)

    job.refresh_from_db()
    assert (job.status, job.changed_count, job.invalid_count, job.sync_on) == (
        ImportStatus.PREVIEW, 2, 1, {"stock": 1})
    assert job.validated_at is not None
    until = timezone.now() + timedelta(hours=4)
    import_confirm(job=job, actor=actor, valid_only=True, pause_kinds=["stock"], pause_until=until)
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)

    job.refresh_from_db()
    failed = queue.failed_job_registry.get_job_ids()
    assert job.status == ImportStatus.APPLIED, (job.error, failed)
    assert (job.uploaded_by, job.applied_by, job.file_name) == (operator, operator, "盘点.csv")
    assert job.created_at <= job.applied_at
    assert (job.applied_count, job.skipped_count, job.valid_only) == (2, 1, True)
    assert dict(Product.objects.filter(merchant=merchant).values_list("erp_product_id", "stock")) == {
        "SYNCED": 30, "PAUSED": 40}
    stock_entries = AuditEntry.objects.filter(merchant=merchant, field="stock")
    assert {(e.entity_id, e.source, e.actor_id) for e in stock_entries} == {
        (synced.pk, AuditSource.IMPORT, operator.pk), (paused.pk, AuditSource.IMPORT, operator.pk)}
    switch = SkuSwitch.objects.get(product=synced, kind="stock")
    assert (switch.enabled, switch.paused_until) == (False, until)
    assert SkuSwitch.objects.get(product=paused).paused_until is None  # already paused: left as it was


def test_a_batch_file_whose_rows_are_unchanged_can_still_remove_stale_batches(merchant_a, owner_actor):
    from merchant.models import Batch

    from .factories import BatchFactory

    kept = BatchFactory(product__merchant=merchant_a, product__erp_product_id="P-9", batch_no="KEEP")
    BatchFactory(product=kept.product, batch_no="STALE")
    rows = [["erp_product_id", "batch_no", "production_date", "expiry_date", "quantity"],
            ["P-9", "KEEP", kept.production_date, kept.expiry_date, kept.quantity]]
    job = make_job(merchant_a, "batches", xlsx_bytes(rows))
    pipeline.validate(job)
    job.refresh_from_db()
    assert (job.new_count, job.changed_count, job.unchanged_count) == (0, 0, 1)
    assert any("will be removed" in warning for warning in job.warnings)
    import_confirm(job=job, actor=owner_actor)  # not refused as "nothing to apply"
    jobs.import_apply(job.pk)
    assert list(Batch.objects.filter(product=kept.product).values_list("batch_no", flat=True)) == ["KEEP"]
