"""An import never lands over newer data (rows changed since the preview are left out and shown), and an
applied import can be taken back as a revert change set (issue 13, deliverables 2 and 3)."""
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from merchant import jobs
from merchant.models import AuditEntry, GroupPrice, ImportJob, ImportStatus, Product, RowAction

from .factories import ProductFactory
from .import_files import csv_bytes, make_job

pytestmark = pytest.mark.usefixtures("english_pages", "media_root")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()


@pytest.fixture
def priced(merchant_a):
    return [ProductFactory(merchant=merchant_a, erp_product_id=f"P-{n}", default_price=Decimal("40.00"))
            for n in (1, 2)]


def checked(client, merchant, rows, kind="prices", name="prices.csv") -> ImportJob:
    job = make_job(merchant, kind, csv_bytes(rows), name=name)
    jobs.import_validate(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW
    return job


def confirm(client, job, **data) -> ImportJob:
    client.post(reverse("import_confirm", args=[job.pk]), data)
    job.refresh_from_db()
    assert job.status == ImportStatus.APPLYING
    jobs.import_apply(job.pk, valid_only=bool(data.get("valid_only")))
    job.refresh_from_db()
    return job


PRICE_FILE = [["erp_product_id", "price_type", "price"], ["P-1", "default", "32.57"], ["P-2", "default", "35.00"]]


def hand_edit(product, price):
    Product.objects.filter(pk=product.pk).update(default_price=Decimal(price))


def test_a_row_whose_price_was_edited_after_the_preview_is_not_applied_and_is_shown(client_owner, merchant_a, priced):
    one, two = priced
    job = checked(client_owner, merchant_a, PRICE_FILE)
    hand_edit(one, "50.00")  # by hand, after the preview, before the confirmation
    job = confirm(client_owner, job)
    assert (job.status, job.applied_count, job.stale_count) == ("applied", 1, 1)
    assert Product.objects.get(pk=one.pk).default_price == Decimal("50.00")  # the newer value stays
    assert Product.objects.get(pk=two.pk).default_price == Decimal("35.00")
    assert not AuditEntry.objects.filter(entity_id=one.pk, source="import").exists()
    page = client_owner.get(job.get_absolute_url())
    number, key, fields = page.context["stale_rows"][0]
    assert (number, key) == (2, "P-1")
    assert fields == [("Default price", "40.00", "50.00", "32.57")]  # at the check, now, in the file
    assert "Check the file again" in page.content.decode()


def test_checking_the_file_again_includes_the_row_left_out(client_owner, merchant_a, priced):
    one, _two = priced
    job = checked(client_owner, merchant_a, PRICE_FILE)
    hand_edit(one, "50.00")
    job = confirm(client_owner, job)
    response = client_owner.post(reverse("import_recheck", args=[job.pk]))
    again = ImportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == again.get_absolute_url()
    assert again.file_name == job.file_name
    jobs.import_validate(again.pk)
    again.refresh_from_db()
    # Against the values now in force: P-1 changes 50.00 -> 32.57, P-2 is already as the file says.
    assert (again.changed_count, again.unchanged_count) == (1, 1)
    assert again.rows.get().changes == {"default_price": ["50.00", "32.57"]}
    again = confirm(client_owner, again)
    assert (again.applied_count, again.stale_count) == (1, 0)
    assert Product.objects.get(pk=one.pk).default_price == Decimal("32.57")


def test_a_viewer_cannot_check_again_or_revert(client_viewer, merchant_a, priced):
    job = checked(client_viewer, merchant_a, PRICE_FILE)
    assert client_viewer.post(reverse("import_recheck", args=[job.pk])).status_code == 403
    assert client_viewer.post(reverse("import_revert", args=[job.pk])).status_code == 403
    assert ImportJob.objects.count() == 1


def test_revert_previews_what_goes_back_and_applies_it_audited_as_revert(client_owner, merchant_a, priced, owner):
    one, two = priced
    job = confirm(client_owner, checked(client_owner, merchant_a, PRICE_FILE))
    response = client_owner.post(reverse("import_revert", args=[job.pk]))
    revert = ImportJob.objects.get(reverts=job)
    assert response["Location"] == revert.get_absolute_url()
    assert (revert.status, revert.kind, revert.changed_count, revert.invalid_count) == ("preview", "prices", 2, 0)
    assert {row.key: row.changes for row in revert.rows.all()} == {
        "P-1": {"default_price": ["32.57", "40.00"]}, "P-2": {"default_price": ["35.00", "40.00"]}}
    assert Product.objects.get(pk=one.pk).default_price == Decimal("32.57")  # nothing changed before confirming
    page = client_owner.get(revert.get_absolute_url()).content.decode()
    assert f'href="{job.get_absolute_url()}">import #{job.pk}</a>' in page
    revert = confirm(client_owner, revert)
    assert (revert.status, revert.applied_count) == ("applied", 2)
    assert [Product.objects.get(pk=p.pk).default_price for p in priced] == [Decimal("40.00")] * 2
    entry = AuditEntry.objects.get(entity_id=one.pk, source="revert")
    assert (entry.actor, entry.field, entry.old_value, entry.new_value) == (owner, "default_price", "32.57", "40.00")
    with translation.override("zh-hans"):
        assert str(entry.get_source_display()) == "撤销导入"
    original = client_owner.get(job.get_absolute_url()).content.decode()
    assert f"Reverted by <a href=\"{revert.get_absolute_url()}\">import #{revert.pk}</a>" in original
    # Reverted once: a second revert is refused.
    client_owner.post(reverse("import_revert", args=[job.pk]))
    assert ImportJob.objects.filter(reverts=job).count() == 1


def test_revert_refuses_rows_changed_since_the_import_applied_them(client_owner, merchant_a, priced):
    one, two = priced
    job = confirm(client_owner, checked(client_owner, merchant_a, PRICE_FILE))
    hand_edit(one, "45.00")  # after the import, before the revert
    client_owner.post(reverse("import_revert", args=[job.pk]))
    revert = ImportJob.objects.get(reverts=job)
    assert (revert.changed_count, revert.invalid_count) == (1, 1)
    refused = revert.rows.get(action=RowAction.INVALID)
    assert refused.key == "P-1" and "changed since the import wrote 32.57: now 45.00" in refused.errors[0]["reason"]
    # And on confirm again: P-2 edited after the revert's preview is not put back either.
    hand_edit(two, "36.00")
    revert = confirm(client_owner, revert, valid_only="on")
    assert (revert.applied_count, revert.stale_count) == (0, 1)
    assert [Product.objects.get(pk=p.pk).default_price for p in priced] == [Decimal("45.00"), Decimal("36.00")]
    assert not AuditEntry.objects.filter(source="revert").exists()


def test_revert_of_stock_and_group_prices_puts_back_the_old_values(client_owner, merchant_a):
    from .factories import GroupPriceFactory, RegionGroupFactory

    product = ProductFactory(merchant=merchant_a, erp_product_id="P-9", stock=5)
    group = RegionGroupFactory()
    GroupPriceFactory(product=product, region_group=group, price=Decimal("20.00"))
    stock = confirm(client_owner, checked(client_owner, merchant_a, [["erp_product_id", "stock"], ["P-9", "40"]],
                                          kind="stock", name="stock.csv"))
    prices = confirm(client_owner, checked(client_owner, merchant_a, [
        ["erp_product_id", "price_type", "group_code", "price"], ["P-9", "region_group", group.code, "18.00"]]))
    for job in (stock, prices):
        client_owner.post(reverse("import_revert", args=[job.pk]))
        confirm(client_owner, ImportJob.objects.get(reverts=job))
    product.refresh_from_db()
    assert product.stock == 5
    assert GroupPrice.objects.get(product=product).price == Decimal("20.00")


def test_the_preview_names_row_states_in_chinese_as_a_merchant_reads_them(client_owner, merchant_a, priced):
    from .factories import RegionGroupFactory

    group = RegionGroupFactory(code="chuanyu", name="川渝")
    job = checked(client_owner, merchant_a, [["erp_product_id", "price_type", "group_code", "price"],
                                            ["P-1", "默认价", "", "32.57"], ["P-2", "区域组价", "川渝", "30.00"]])
    assert (job.new_count, job.changed_count) == (1, 1)
    with translation.override("zh-hans"):
        html = client_owner.get(job.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<span class="badge new">新增</span>' in html and '<span class="badge changed">变更</span>' in html
    assert "新值" not in html and "变更时间" not in html
    assert "川渝价格" in html and f"price[{group.code}]" not in html  # a group price by its group's name


def test_revert_of_a_products_import_puts_back_changed_fields_and_keeps_created_products(client_owner, merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-7", name="Old name", stock=3)
    job = confirm(client_owner, checked(client_owner, merchant_a, [
        ["erp_product_id", "name", "stock", "default_price"], ["P-7", "New name", "9", ""], ["P-8", "Brand new", "1", "5"]],
        kind="products", name="products.csv"))
    assert Product.objects.filter(erp_product_id="P-8").exists()
    client_owner.post(reverse("import_revert", args=[job.pk]))
    revert = ImportJob.objects.get(reverts=job)
    assert any("records this import created stay" in warning for warning in revert.warnings)
    confirm(client_owner, revert)
    product.refresh_from_db()
    assert (product.name, product.stock) == ("Old name", 3)
    assert Product.objects.filter(erp_product_id="P-8").exists()


def test_imports_that_ship_or_replace_batches_are_not_offered_a_revert(client_owner, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="P-3", batch_managed=True, stock=0)
    job = confirm(client_owner, checked(client_owner, merchant_a, [
        ["erp_product_id", "batch_no", "production_date", "expiry_date", "quantity"],
        ["P-3", "L1", "2026-01-01", "2029-01-01", "5"]], kind="batches", name="batches.csv"))
    assert 'id="revert-form"' not in client_owner.get(job.get_absolute_url()).content.decode()
    client_owner.post(reverse("import_revert", args=[job.pk]))
    assert not ImportJob.objects.filter(reverts=job).exists()
