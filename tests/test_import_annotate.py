"""The annotated error workbook of a checked import (SPEC M4): the rows as read, reasons in an Errors column,
wrong cells filled, formula-looking text neutralised as in every export; and it can be corrected and uploaded again."""
import csv
import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from django.core.files.base import ContentFile

from merchant.models import ImportJob, ImportStatus
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.annotate import ERRORS_LABEL, annotated_workbook
from merchant.spreadsheets.imports.columns import KIND_COLUMNS, header_label
from merchant.spreadsheets.imports.reader import ImportFileError
from merchant.spreadsheets.xlsx_stream import Row, stream_xlsx, styled_cell

from .factories import ProductFactory

pytestmark = pytest.mark.usefixtures("english")
ERROR_FILL = "FFFFC7CE"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def labels(kind: str, *keys: str) -> list[str]:
    columns = {column.key: column for column in KIND_COLUMNS[kind]}
    return [header_label(columns[key]) for key in keys]


def xlsx(rows) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_content(rows) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode()


def checked(merchant, kind: str, content: bytes, name: str = "upload.xlsx") -> ImportJob:
    job = ImportJob(merchant=merchant, kind=kind, file_name=name, file_format=name.rsplit(".", 1)[1],
                    file_size=len(content))
    job.file.save(name, ContentFile(content), save=False)
    job.save()
    pipeline.validate(job)
    assert job.status == ImportStatus.PREVIEW, job.error
    return job


def annotated(job: ImportJob, **options) -> tuple[bytes, openpyxl.worksheet.worksheet.Worksheet]:
    data = b"".join(annotated_workbook(job, **options))
    return data, openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]


def errors_of(sheet, column: int) -> dict[int, str]:
    return {row: sheet.cell(row=row, column=column).value for row in range(2, sheet.max_row + 1)
            if sheet.cell(row=row, column=column).value}


def filled(sheet) -> set[str]:
    return {cell.coordinate for row in sheet.iter_rows() for cell in row
            if cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == ERROR_FILL}


@pytest.fixture
def products_job(merchant_a):
    """Rows 2 and 6 valid, row 3 a bad price, row 4 blank, row 5 a new product without name and negative stock."""
    header = [*labels("products", "erp_product_id", "name", "default_price", "stock", "barcode"), "备注 Remark"]
    rows = [
        header,
        ["SKU-1", "Aspirin", 10, 5, "6901234567892", "ok"],
        ["SKU-2", "Ibuprofen", "abc", 3, None, None],
        [],
        ["SKU-3", None, 8.5, -1, None, None],
        ["SKU-4", "Vitamin C", 7, 1, None, datetime(2026, 3, 1)],
    ]
    return checked(merchant_a, "products", xlsx(rows))


def test_errors_column_holds_column_label_and_reason_of_invalid_rows(products_job):
    _data, sheet = annotated(products_job)

    assert sheet.cell(row=1, column=7).value == ERRORS_LABEL
    assert sheet.cell(row=1, column=6).value == "备注 Remark"
    errors = errors_of(sheet, 7)
    assert set(errors) == {3, 5}
    assert errors[3] == "默认价 Default price: not a number"
    assert sorted(errors[5].split("; ")) == ["商品名称 Name: required for a new product",
                                             "库存 Stock: stock cannot be negative"]


def test_rows_are_written_as_read_at_their_original_row_numbers(products_job):
    _data, sheet = annotated(products_job)

    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[1][:6] == ["SKU-1", "Aspirin", 10, 5, "6901234567892", "ok"]
    assert rows[2][:4] == ["SKU-2", "Ibuprofen", "abc", 3]
    assert rows[3] == [None] * 7  # the blank row stays where it was
    assert rows[4][:4] == ["SKU-3", None, 8.5, -1]
    assert sheet.cell(row=6, column=6).value == datetime(2026, 3, 1)
    assert sheet.cell(row=6, column=6).number_format == "yyyy-mm-dd"
    assert sheet.freeze_panes == "A2"


def test_cells_of_erroneous_columns_are_filled(products_job):
    _data, sheet = annotated(products_job)

    # C3: the bad price; B5 (blank) and D5: the missing name and the negative stock; G1: the Errors header.
    assert filled(sheet) == {"G1", "C3", "B5", "D5"}


def test_only_invalid_rows_are_packed_under_the_header_with_their_row_numbers(products_job):
    _data, sheet = annotated(products_job, only_invalid=True)

    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(rows) == 3
    assert rows[0][6] == ERRORS_LABEL
    assert [row[0] for row in rows[1:]] == ["SKU-2", "SKU-3"]
    assert rows[1][6] == "第3行 Row 3: 默认价 Default price: not a number"
    assert rows[2][6].startswith("第5行 Row 5: ")
    assert filled(sheet) == {"G1", "C2", "B3", "D3"}


def test_corrected_workbook_uploads_again_with_the_errors_column_ignored(products_job, merchant_a):
    data, _sheet = annotated(products_job)

    again = checked(merchant_a, "products", data)

    assert (again.new_count, again.invalid_count) == (2, 2)
    assert not any("错误" in warning for warning in again.warnings)
    _data, sheet = annotated(again)
    header = [cell.value for cell in sheet[1]]
    assert header.count(ERRORS_LABEL) == 1 and header.index(ERRORS_LABEL) == 6
    assert errors_of(sheet, 7)[3] == "默认价 Default price: not a number"


def test_formula_looking_text_is_neutralised_like_every_export(merchant_a):
    hostile = '=HYPERLINK("http://evil.example","x")'
    rows = [["erp_product_id", "name", "default_price", "barcode", "=cmd|' /C calc'!A0"],
            ["SKU-9", hostile, "-5", "+8613800000000", "\tTab"],
            ["@SKU", "Plain", "3", "-1", "\rCR"]]
    job = checked(merchant_a, "products", csv_content(rows), name="upload.csv")

    data, sheet = annotated(job)

    assert sheet["B2"].value == "'" + hostile and sheet["B2"].data_type == "s"
    assert (sheet["C2"].value, sheet["D2"].value, sheet["A3"].value) == ("'-5", "'+8613800000000", "'@SKU")
    assert (sheet["E2"].value, sheet["D3"].value) == ("'\tTab", "'-1")
    assert sheet["E3"].value.startswith("'") and sheet["E3"].value[2:] == "CR"  # XML reads CR back as LF
    assert sheet["E1"].value == "'=cmd|' /C calc'!A0"  # the header row as uploaded, too
    assert (sheet["A2"].value, sheet["B3"].value) == ("SKU-9", "Plain")
    assert sheet["F2"].value == "默认价 Default price: A price must be greater than 0."
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml


def test_neutralised_text_reads_as_it_was_when_the_checked_workbook_comes_back(merchant_a):
    rows = [["erp_product_id", "name", "default_price", "barcode"],
            ["SKU-1", "-特价-", "abc", "+8613800000000"],
            ["SKU-2", "=1+1", "3", "6901234567892"]]
    data, _sheet = annotated(checked(merchant_a, "products", csv_content(rows), name="upload.csv"))

    again = checked(merchant_a, "products", data)

    assert {row.key: (row.data.get("name"), row.data.get("barcode")) for row in again.rows.filter(action="new")} == \
        {"SKU-2": ("=1+1", "6901234567892")}
    assert again.rows.get(row_number=2).errors[0]["value"] == "abc"
    assert again.invalid_count == 1


def test_dates_and_error_values_keep_their_kind(merchant_a, product):
    header = labels("batches", "erp_product_id", "batch_no", "production_date", "expiry_date", "quantity")
    rows = [header,
            [product.erp_product_id, "L1", datetime(2026, 3, 1), datetime(2025, 1, 1), 10],
            [product.erp_product_id, "L2", datetime(2026, 3, 1), datetime(2028, 1, 1), "#N/A"]]
    job = checked(merchant_a, "batches", xlsx(rows))

    _data, sheet = annotated(job)

    expiry = sheet["D2"]
    assert expiry.value == datetime(2025, 1, 1) and expiry.number_format == "yyyy-mm-dd"
    assert sheet["F2"].value == "有效期至 Expiry date: the expiry date must be after the production date"
    assert (sheet["E3"].value, sheet["E3"].data_type) == ("#N/A", "e")
    assert filled(sheet) == {"F1", "D2", "E3"}


def test_invalid_rows_are_joined_to_their_rows_across_a_large_file(merchant_a):
    known = {row: ProductFactory(merchant=merchant_a, batch_managed=False) for row in (10, 600, 1100)}
    rows = [labels("stock", "erp_product_id", "stock")]
    for number in range(2, 1202):
        product = known.get(number)
        rows.append([product.erp_product_id if product else f"NOPE-{number}", number])
    job = checked(merchant_a, "stock", xlsx(rows))

    chunks = list(annotated_workbook(job))

    assert sum(1 for chunk in chunks if chunk) > 2  # streamed, not built whole
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(chunks))).worksheets[0]
    errors = errors_of(sheet, 3)
    assert set(errors) == set(range(2, 1202)) - set(known)
    assert errors[1201] == "ERP商品编码 ERP product id: no product with this ERP product id"
    assert sheet["A1201"].value == "NOPE-1201" and sheet["A600"].value == known[600].erp_product_id


def test_a_deleted_upload_gives_a_clear_error(products_job):
    products_job.file.delete(save=False)

    with pytest.raises(ImportFileError, match="no longer available"):
        annotated_workbook(products_job)


def test_a_job_without_file_gives_a_clear_error(merchant_a):
    job = ImportJob.objects.create(merchant=merchant_a, kind="stock", file_name="x.xlsx", file_format="xlsx")

    with pytest.raises(ImportFileError, match="no longer available"):
        annotated_workbook(job)


def test_a_title_row_above_the_header_keeps_the_rows_where_they_were(merchant_a):
    rows = [["Stock for March"], labels("stock", "erp_product_id", "stock"), ["NOPE", 4]]
    job = checked(merchant_a, "stock", xlsx(rows))

    _data, sheet = annotated(job)

    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        [None, None, None],
        [*labels("stock", "erp_product_id", "stock"), ERRORS_LABEL],
        ["NOPE", 4, "ERP商品编码 ERP product id: no product with this ERP product id"],
    ]
    assert sheet.freeze_panes == "A3"


def test_stream_xlsx_places_numbered_rows_and_writes_plain_dates_as_dates():
    data = b"".join(stream_xlsx(["d"], [Row(3, [styled_cell(date(2026, 3, 1), highlight=True)])]))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]

    assert sheet["A3"].value == datetime(2026, 3, 1) and sheet["A3"].number_format == "yyyy-mm-dd"
    assert sheet["A3"].fill.fgColor.rgb == ERROR_FILL
    assert sheet["A2"].value is None
