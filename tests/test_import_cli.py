"""`manage.py import_file MERCHANT KIND FILE [--apply] [--valid-only]`: the same pipeline as the pages, one
JSON line out."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from merchant.models import AuditEntry, AuditSource, ImportJob, ImportStatus, OrderStatus, Product, Shipment

from .factories import CarrierFactory, OrderFactory, ProductFactory
from .import_files import csv_bytes, ole_bytes, xlsx_bytes

pytestmark = pytest.mark.usefixtures("english")

HEADER = ["erp_product_id", "name", "default_price", "stock"]
ROWS = [HEADER, ["P-1", "Aspirin", 9.5, 3], ["P-2", "Ibuprofen", 12, ""], ["P-3", "No price", "", 1],
        ["P-4", "Bad stock", 1, "many"]]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def write(tmp_path, name, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def run(*args) -> tuple[dict, int]:
    """Run the command; returns (its JSON output, exit status)."""
    out = StringIO()
    status = 0
    try:
        call_command("import_file", *args, stdout=out)
    except SystemExit as exit_:
        status = exit_.code
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0]), status


def stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


def test_a_check_prints_counts_and_the_first_errors_and_changes_nothing(merchant_a, tmp_path, media_root):
    summary, status = run("merchant-a", "products", write(tmp_path, "products.xlsx", xlsx_bytes(ROWS)))

    assert status == 0
    assert (summary["status"], summary["rows"], summary["new"], summary["invalid"]) == ("preview", 4, 2, 2)
    assert summary["errors"] == [
        {"row": 4, "column": "default_price", "value": "", "reason": "required for a new product"},
        {"row": 5, "column": "stock", "value": "many", "reason": "not a number"},
    ]
    assert not Product.objects.exists()
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


def test_apply_with_invalid_rows_refuses_without_valid_only(merchant_a, tmp_path):
    summary, status = run("merchant-a", "products", write(tmp_path, "products.xlsx", xlsx_bytes(ROWS)), "--apply")

    assert status == 1
    assert "nothing applied" in summary["error"]
    assert not Product.objects.exists()


def test_apply_valid_only_applies_the_valid_rows_and_records_the_import(merchant_a, tmp_path):
    path = write(tmp_path, "products.xlsx", xlsx_bytes(ROWS))
    summary, status = run("merchant-a", "products", path, "--apply", "--valid-only")

    assert status == 0
    assert (summary["status"], summary["applied"], summary["skipped"]) == ("applied", 2, 2)
    assert dict(Product.objects.values_list("erp_product_id", "stock")) == {"P-1": 3, "P-2": 0}
    job = ImportJob.objects.get()
    assert (job.status, job.file_name, job.kind, job.merchant, job.valid_only) == (
        ImportStatus.APPLIED, "products.xlsx", "products", merchant_a, True)
    assert (job.new_count, job.invalid_count, job.applied_count, job.skipped_count) == (2, 2, 2, 2)
    assert job.applied_at is not None and job.applied_at >= job.created_at
    assert set(AuditEntry.objects.values_list("source", flat=True)) == {AuditSource.IMPORT}


def test_apply_updates_existing_products_by_erp_product_id(merchant_a, tmp_path):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", stock=1)
    path = write(tmp_path, "stock.csv", csv_bytes([["ERP商品编码", "库存"], ["P-1", "８"]]))
    summary, status = run("merchant-a", "stock", path, "--apply")

    assert (status, summary["changed"], summary["applied"]) == (0, 1, 1)
    product.refresh_from_db()
    assert product.stock == 8


def test_logistics_check_changes_nothing_and_apply_ships_the_orders(merchant_a, tmp_path):
    CarrierFactory(code="SF", name="顺丰速运")
    order = OrderFactory(merchant=merchant_a, order_no="000777")
    path = write(tmp_path, "ship.xlsx", xlsx_bytes([["订单号", "物流公司", "运单号"], ["000777", "顺丰速运", "SF1"],
                                                    ["000778", "SF", "SF2"]]))

    summary, status = run("merchant-a", "logistics", path)

    assert (status, summary["changed"], summary["invalid"]) == (0, 1, 1)
    assert summary["errors"] == [
        {"row": 3, "column": "order_no", "value": "000778", "reason": "no order of yours has this number"}]
    assert not Shipment.objects.exists() and not ImportJob.objects.exists()

    summary, status = run("merchant-a", "logistics", path, "--apply", "--valid-only")

    assert (status, summary["status"], summary["applied"], summary["skipped"]) == (0, "applied", 1, 1)
    order.refresh_from_db()
    assert (order.status, order.tracking_no) == (OrderStatus.SHIPPED, "SF1")
    assert set(AuditEntry.objects.values_list("source", flat=True)) == {AuditSource.IMPORT}


@pytest.mark.parametrize("kind, header", [
    ("prices", ["erp_product_id", "price_type", "price"]),
    ("batches", ["erp_product_id", "batch_no", "production_date", "expiry_date", "quantity"]),
    ("customer_codes", ["uscc", "erp_customer_code"]),
    ("logistics", ["order_no", "carrier", "tracking_no"]),
])
def test_every_import_kind_is_checked(merchant_a, tmp_path, kind, header):
    summary, status = run("merchant-a", kind, write(tmp_path, "f.xlsx", xlsx_bytes([header, ["X"] * len(header)])))
    assert (status, summary["kind"], summary["rows"], summary["invalid"]) == (0, kind, 1, 1)
    assert summary["errors"][0]["row"] == 2


def test_an_unreadable_file_is_reported_and_leaves_nothing(merchant_a, tmp_path, media_root):
    summary, status = run("merchant-a", "products", write(tmp_path, "locked.xlsx", ole_bytes(encrypted=True)))
    assert status == 1
    assert summary["status"] == "failed"
    assert "password-protected" in summary["error"]
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


def test_an_unreadable_file_with_apply_is_recorded_as_failed_and_writes_nothing(merchant_a, tmp_path):
    summary, status = run("merchant-a", "stock", write(tmp_path, "junk.csv", b"\x00\x01junk"), "--apply")
    assert status == 1
    assert "not a CSV text file" in summary["error"]
    assert ImportJob.objects.get().status == ImportStatus.FAILED
    assert not AuditEntry.objects.exists()


def test_unknown_merchant_missing_file_and_unsupported_types_are_command_errors(merchant_a, tmp_path):
    path = write(tmp_path, "p.xlsx", xlsx_bytes(ROWS))
    with pytest.raises(CommandError, match="No merchant with code 'nobody'"):
        call_command("import_file", "nobody", "products", path)
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_file", "merchant-a", "products", str(tmp_path / "missing.xlsx"))
    with pytest.raises(CommandError, match=r"Upload an Excel or LibreOffice workbook \(.xlsx, .xlsm, .xls, .ods\)"):
        call_command("import_file", "merchant-a", "products", write(tmp_path, "old.doc", ole_bytes(False)))
    with pytest.raises(CommandError):
        call_command("import_file", "merchant-a", "orders", path)
    assert not ImportJob.objects.exists()


def test_the_command_speaks_one_language_whatever_the_site_language(merchant_a, tmp_path, settings):
    """The site defaults to Chinese, the command's own words are English: its service messages follow them."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        summary, _status = run("merchant-a", "products", write(tmp_path, "bad.csv", b"a,b\n1,2\n"))
    assert summary["error"].startswith("No header row naming the columns was found")
