"""Workbooks and CSV files as the programs merchants use write them (LibreOffice, WPS/Excel through openpyxl,
xlsxwriter, pandas), imported end to end: every value is checked in the database, codes exactly as the
spreadsheet shows them (zero-padding number formats included), the data sheet found by its header."""
import io
from pathlib import Path

import pandas
import pytest
import xlsxwriter
from openpyxl import Workbook

from merchant.models import Batch, ImportStatus, Product
from merchant.services.imports import import_actor
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.reader import sniff_format

from .factories import ProductFactory
from .import_files import csv_bytes, make_job
from .sheet_cases import (
    EXPECTED_BATCHES, EXPECTED_PRODUCTS, PRODUCT_HEADER, SKIPPED_MESSAGE, workbook_sheets,
)

pytestmark = pytest.mark.usefixtures("english")
FIXTURES = Path(__file__).parent / "fixtures"
FIELDS = ("name", "barcode", "approval_number", "spec", "manufacturer", "unit", "default_price",
          "suggested_retail_price", "stock")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def imported(merchant, kind: str, content: bytes, name: str):
    job = make_job(merchant, kind, content, name=name, file_format=sniff_format(name))
    pipeline.validate(job)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW, job.error
    assert job.invalid_count == 0, list(job.rows.values_list("row_number", "errors"))
    pipeline.apply(job, actor=import_actor(None, None))
    job.refresh_from_db()
    return job


def products_of(merchant) -> dict:
    return {p.erp_product_id: {field: getattr(p, field) for field in FIELDS}
            for p in Product.objects.filter(merchant=merchant)}


def batches_of(merchant) -> dict:
    return {b.batch_no: (b.production_date, b.expiry_date, b.quantity)
            for b in Batch.objects.filter(product__merchant=merchant)}


# --- the writers ---------------------------------------------------------------------------------------------

def openpyxl_workbook(kind: str) -> bytes:
    """As Excel and WPS save it: shared strings, number formats on the cells."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in workbook_sheets(kind):
        sheet = workbook.create_sheet(name)
        for row_number, row in enumerate(rows, start=1):
            for column, (value, number_format) in enumerate(row, start=1):
                cell = sheet.cell(row=row_number, column=column, value=value)
                if number_format:
                    cell.number_format = number_format
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsxwriter_workbook(kind: str) -> bytes:
    """xlsxwriter writes no <dimension> until the end and its own style table."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    formats = {}
    for name, rows in workbook_sheets(kind):
        sheet = workbook.add_worksheet(name)
        for row_number, row in enumerate(rows):
            for column, (value, number_format) in enumerate(row):
                if value is None:
                    continue
                if number_format and number_format not in formats:
                    formats[number_format] = workbook.add_format({"num_format": number_format})
                style = formats.get(number_format)
                if hasattr(value, "year"):
                    sheet.write_datetime(row_number, column, value, style)
                else:
                    sheet.write(row_number, column, value, style)
    workbook.close()
    return buffer.getvalue()


def shown(value, number_format):
    """The cell as the spreadsheet shows it: what a program exporting the same table as text writes."""
    if number_format and set(number_format) == {"0"}:
        return f"{value:0{len(number_format)}d}"
    return value


def data_frame(kind: str) -> pandas.DataFrame:
    """The data sheet as a pandas user holds it: codes as the text they are, blanks as NaN."""
    sheets = dict(workbook_sheets(kind))
    header, *rows = sheets["商品"]
    return pandas.DataFrame([[shown(value, number_format) for value, number_format in row] for row in rows],
                            columns=[name for name, _format in header])


def pandas_workbook(kind: str, engine: str) -> bytes:
    buffer = io.BytesIO()
    with pandas.ExcelWriter(buffer, engine=engine) as writer:
        for name, rows in workbook_sheets(kind):
            if name == "商品":
                data_frame(kind).to_excel(writer, sheet_name=name, index=False)
            else:
                pandas.DataFrame([[value for value, _format in row] for row in rows[1:]],
                                 columns=[value for value, _format in rows[0]]).to_excel(
                    writer, sheet_name=name, index=False)
    return buffer.getvalue()


WORKBOOKS = {
    "libreoffice.ods": lambda kind: (FIXTURES / f"{kind}.ods").read_bytes(),
    "libreoffice.xls": lambda kind: (FIXTURES / f"{kind}.xls").read_bytes(),
    "libreoffice.xlsx": lambda kind: (FIXTURES / f"{kind}-libreoffice.xlsx").read_bytes(),
    "excel-wps.xlsx": openpyxl_workbook,
    "excel-wps.xlsm": openpyxl_workbook,
    "xlsxwriter.xlsx": xlsxwriter_workbook,
    "pandas-openpyxl.xlsx": lambda kind: pandas_workbook(kind, "openpyxl"),
    "pandas-xlsxwriter.xlsx": lambda kind: pandas_workbook(kind, "xlsxwriter"),
    "pandas-odf.ods": lambda kind: pandas_workbook(kind, "odf"),
}


@pytest.mark.parametrize("name", WORKBOOKS)
def test_a_product_workbook_imports_what_the_spreadsheet_shows(merchant_a, name):
    job = imported(merchant_a, "products", WORKBOOKS[name]("products"), name)

    assert products_of(merchant_a) == EXPECTED_PRODUCTS
    assert job.new_count == 3
    assert SKIPPED_MESSAGE in job.warnings


@pytest.mark.parametrize("name", WORKBOOKS)
def test_a_batch_workbook_imports_its_dates_and_zero_padded_batch_numbers(merchant_a, name):
    ProductFactory(merchant=merchant_a, erp_product_id="SKU-0002", stock=0)

    imported(merchant_a, "batches", WORKBOOKS[name]("batches"), name)

    assert batches_of(merchant_a) == EXPECTED_BATCHES


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("gbk", False), ("gb18030", False)])
@pytest.mark.parametrize("writer", ["csv", "pandas"])
def test_a_csv_file_imports_in_each_encoding_excel_and_wps_save(merchant_a, encoding, bom, writer):
    frame = data_frame("products")
    if writer == "pandas":
        content = frame.to_csv(index=False, encoding=encoding).encode(encoding)
        content = (b"\xef\xbb\xbf" if bom else b"") + content
    else:
        blanked = ([("" if pandas.isna(v) else v) for v in row] for row in frame.itertuples(index=False))
        rows = [PRODUCT_HEADER, *blanked]
        content = csv_bytes(rows, encoding=encoding, bom=bom)

    imported(merchant_a, "products", content, "products.csv")

    assert products_of(merchant_a) == EXPECTED_PRODUCTS


def test_gb18030_characters_outside_gbk_survive(merchant_a):
    content = csv_bytes([["ERP商品编码", "商品名称", "默认价"], ["SKU-1", "㐀草药", "1"]], encoding="gb18030")
    imported(merchant_a, "products", content, "products.csv")
    assert Product.objects.get(erp_product_id="SKU-1").name == "㐀草药"

