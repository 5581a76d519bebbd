"""The import pages: upload -> progress -> review of the change set -> confirm -> summary, per role."""
from datetime import timedelta

import django_rq
import pytest
import rq
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from merchant import jobs
from merchant.models import AuditEntry, ImportJob, ImportStatus, Product, SkuSwitch

from .factories import ProductFactory

pytestmark = pytest.mark.usefixtures("english_pages", "media_root")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()  # progress is kept in the cache by job id, and ids repeat between tests


def _csv(text: str, name="stock.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def _upload(client, text, kind="stock", name="stock.csv"):
    return client.post(reverse("import_list"), {"kind": kind, "file": _csv(text, name)})


@pytest.fixture
def stocked(merchant_a):
    return ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=5)


def test_upload_creates_a_queued_import_and_shows_its_page(editor_client, stocked):
    response = _upload(editor_client, "erp_product_id,stock\nP-1,40\n")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.status == ImportStatus.QUEUED and job.file_name == "stock.csv"
    page = editor_client.get(job.get_absolute_url())
    assert page.status_code == 200
    assert b"data-progress-url" in page.content  # the progress bar polls until the check is done
    assert editor_client.get(reverse("import_progress", args=[job.pk])).json()["running"] is True


def test_preview_lists_the_change_set_and_confirm_applies_it(client_owner, stocked, owner):
    _upload(client_owner, "ERP product id,Stock,Colour\nP-1,40\nNOPE,1\n")
    job = ImportJob.objects.get()
    jobs.import_validate(job.pk)
    job.refresh_from_db()
    assert (job.status, job.changed_count, job.invalid_count) == ("preview", 1, 1)
    page = client_owner.get(job.get_absolute_url()).content.decode()
    assert "Columns not recognised, ignored: Colour." in page
    assert "no product with this ERP product id" in page
    assert "<s>5</s> → <b>40</b>" in page
    progress = client_owner.get(reverse("import_progress", args=[job.pk])).json()
    assert progress["running"] is False and progress["status"] == "preview"

    # With an invalid row, applying everything is refused; the valid rows only is accepted.
    response = client_owner.post(reverse("import_confirm", args=[job.pk]), {}, follow=True)
    assert "rows are invalid" in response.content.decode()
    assert Product.objects.get(pk=stocked.pk).stock == 5
    client_owner.post(reverse("import_confirm", args=[job.pk]), {"valid_only": "on"})
    job.refresh_from_db()
    assert job.status == ImportStatus.APPLYING and job.applied_by == owner
    jobs.import_apply(job.pk, valid_only=True)
    job.refresh_from_db()
    assert (job.status, job.applied_count, job.skipped_count) == ("applied", 1, 1)
    assert Product.objects.get(pk=stocked.pk).stock == 40
    entry = AuditEntry.objects.get(entity_id=stocked.pk, field="stock")
    assert (entry.source, entry.actor, entry.old_value, entry.new_value) == ("import", owner, "5", "40")
    assert "1 records written, 1 invalid rows skipped" in client_owner.get(job.get_absolute_url()).content.decode()


def _work_off_imports_queue():
    queue = django_rq.get_queue("imports")
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_confirm_can_pause_auto_stock_sync_of_the_changed_skus(client_operator, stocked,
                                                               django_capture_on_commit_callbacks):
    django_rq.get_queue("imports").empty()
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client_operator, "erp_product_id,stock\nP-1,40\n")
    _work_off_imports_queue()  # the check, through the real queue
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.PREVIEW and job.sync_on == {"stock": 1}
    assert "Automatic stock sync is on for 1 SKU" in client_operator.get(job.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client_operator.post(reverse("import_confirm", args=[job.pk]), {"pause_stock": "on", "pause_for": "4"})
    _work_off_imports_queue()
    assert ImportJob.objects.get().status == ImportStatus.APPLIED
    switch = SkuSwitch.objects.get(product=stocked, kind="stock")
    paused_for = switch.paused_until - timezone.now()
    assert switch.enabled is False and timedelta(hours=3, minutes=59) < paused_for <= timedelta(hours=4)
    assert Product.objects.get(pk=stocked.pk).stock == 40


def test_a_file_of_another_type_is_refused_at_upload(client_owner):
    response = client_owner.post(reverse("import_list"), {
        "kind": "products", "file": SimpleUploadedFile("photo.png", b"\x89PNG\r\n", content_type="image/png")})
    assert response.status_code == 400
    assert "Upload an Excel or LibreOffice workbook (.xlsx, .xlsm, .xls, .ods) or a CSV file." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_that_cannot_be_read_fails_with_the_reason(client_owner):
    _upload(client_owner, "", name="fake.xlsx")
    assert not ImportJob.objects.exists()  # empty: refused at upload
    client_owner.post(reverse("import_list"), {
        "kind": "products", "file": SimpleUploadedFile("fake.xlsx", b"not a workbook at all")})
    job = ImportJob.objects.get()
    jobs.import_validate(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "not an Excel or LibreOffice workbook" in client_owner.get(job.get_absolute_url()).content.decode()


def test_viewers_see_imports_but_cannot_upload_or_confirm(client_viewer, merchant_a):
    assert client_viewer.get(reverse("import_list")).status_code == 200
    assert _upload(client_viewer, "erp_product_id,stock\nP-1,1\n").status_code == 403
    job = ImportJob.objects.create(merchant=merchant_a, kind="stock", file_name="x.csv", file_format="csv",
                                   status=ImportStatus.PREVIEW, changed_count=1)
    assert client_viewer.post(reverse("import_confirm", args=[job.pk]), {}).status_code == 403
    assert client_viewer.post(reverse("import_cancel", args=[job.pk]), {}).status_code == 403
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW


def test_cancel_drops_the_change_set(client_owner, stocked):
    _upload(client_owner, "erp_product_id,stock\nP-1,40\n")
    job = ImportJob.objects.get()
    jobs.import_validate(job.pk)
    client_owner.post(reverse("import_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED and not job.rows.exists()
    assert client_owner.post(reverse("import_confirm", args=[job.pk]), {}).status_code == 302
    assert Product.objects.get(pk=stocked.pk).stock == 5


def test_history_lists_only_this_merchants_imports(client_owner, merchant_a, merchant_b):
    ImportJob.objects.create(merchant=merchant_a, kind="stock", file_name="mine.csv", file_format="csv")
    ImportJob.objects.create(merchant=merchant_b, kind="stock", file_name="theirs.csv", file_format="csv")
    page = client_owner.get(reverse("import_list")).content.decode()
    assert "mine.csv" in page and "theirs.csv" not in page


def test_a_stalled_check_can_be_started_again(client_owner, stocked, django_capture_on_commit_callbacks):
    job = ImportJob.objects.create(merchant=stocked.merchant, kind="stock", file_name="s.csv", file_format="csv",
                                   status=ImportStatus.VALIDATING, step_started_at=timezone.now())
    response = client_owner.post(reverse("import_restart", args=[job.pk]), follow=True)
    assert "still making progress" in response.content.decode()
    ImportJob.objects.filter(pk=job.pk).update(step_started_at=timezone.now() - timedelta(minutes=11))
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert b"restart-form" in client_owner.get(job.get_absolute_url()).content
    with django_capture_on_commit_callbacks() as callbacks:
        client_owner.post(reverse("import_restart", args=[job.pk]))
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.QUEUED and len(callbacks) == 1


def test_a_stalled_apply_goes_back_to_review_having_changed_nothing(client_owner, stocked):
    job = ImportJob.objects.create(merchant=stocked.merchant, kind="stock", file_name="s.csv", file_format="csv",
                                   status=ImportStatus.APPLYING,
                                   step_started_at=timezone.now() - timedelta(minutes=30))
    client_owner.post(reverse("import_restart", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW and "nothing was changed" in job.error


def test_templates_download_for_every_kind_and_unknown_kinds_are_not_found(client_viewer):
    for kind in ("products", "prices", "batches", "stock", "customer_codes", "logistics"):
        response = client_viewer.get(reverse("import_template", args=[kind]))
        assert response.status_code == 200 and response.content.startswith(b"PK")
        assert f"import-{kind}-template.xlsx" in response["Content-Disposition"]
    assert client_viewer.get(reverse("import_template", args=["orders"])).status_code == 404


def test_checked_workbook_of_a_deleted_file_says_so(client_owner, stocked):
    _upload(client_owner, "erp_product_id,stock\nP-1,oops\n")
    job = ImportJob.objects.get()
    jobs.import_validate(job.pk)
    response = client_owner.get(reverse("import_annotated", args=[job.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"PK")
    job.file.storage.delete(job.file.name)
    response = client_owner.get(reverse("import_annotated", args=[job.pk]), follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


# --- uploads over the limit are refused before their body is read ------------------------------------------

class _Body:
    """A wsgi.input holding body (None: endless bytes), counting what is read; with fail_after, reading more
    than that many bytes fails the test (the server would be receiving and spooling a huge upload)."""

    def __init__(self, body: bytes | None = None, fail_after: int | None = None):
        self.body, self.fail_after, self.read_bytes = body, fail_after, 0

    def read(self, size=-1):
        if self.body is None:
            chunk = b"x" * (64 * 1024 if size is None or size < 0 else size)
        else:
            size = len(self.body) - self.read_bytes if size is None or size < 0 else size
            chunk = self.body[self.read_bytes:self.read_bytes + size]
        self.read_bytes += len(chunk)
        if self.fail_after is not None and self.read_bytes > self.fail_after:
            raise AssertionError(f"the body was read ({self.read_bytes} bytes)")
        return chunk

    def readline(self, size=-1):
        return self.read(size)


def _csrf_client(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # CsrfViewMiddleware reads the form, as in production
    client.force_login(user)
    client.get(reverse("import_list"))  # the CSRF cookie, as the browser has it (else CSRF refuses unread)
    return client


def test_an_upload_declaring_more_than_the_limit_is_refused_before_its_body_is_read(owner, settings):
    settings.IMPORT_MAX_BYTES = 200 * 1024 * 1024
    huge = 260 * 1024 * 1024
    body = _Body(fail_after=0)
    response = _csrf_client(owner).generic(
        "POST", reverse("import_list"), CONTENT_TYPE="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(huge), **{"wsgi.input": body})

    assert response.status_code == 413
    assert "larger than the 200.0\xa0MB one upload may be" in response.content.decode()
    assert body.read_bytes == 0
    assert not ImportJob.objects.exists()


def test_an_upload_whose_file_passes_the_limit_stops_being_read_there(owner, settings):
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    settings.IMPORT_MAX_BYTES = 100 * 1024
    content = b"erp_product_id,stock\n" + b"P-1,40\n" * 23000  # 161 KB: within the form margin above the limit
    client = _csrf_client(owner)
    fields = {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, "kind": "stock",
              "file": SimpleUploadedFile("stock.csv", content, content_type="text/csv")}
    payload = encode_multipart(BOUNDARY, fields)
    body = _Body(payload)
    response = client.generic("POST", reverse("import_list"), CONTENT_TYPE=MULTIPART_CONTENT,
                              CONTENT_LENGTH=str(len(payload)), **{"wsgi.input": body})

    assert response.status_code == 413
    assert body.read_bytes < len(payload)  # reading stopped once the file passed the limit
    assert not ImportJob.objects.exists()

    fields["file"] = SimpleUploadedFile("stock.csv", content[:100 * 1024], content_type="text/csv")
    assert client.post(reverse("import_list"), fields).status_code == 302  # at the limit: taken, CSRF checked
    assert ImportJob.objects.get().file_size == 100 * 1024
