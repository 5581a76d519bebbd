"""Which sheet is read and which header is refused, zero-padding formats, and every safety bound for the .ods
and .xls readers (an .ods is a zip like an xlsx; an .xls is an OLE file read whole)."""
import io
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from merchant.models import ImportStatus, Product
from merchant.services.imports import import_actor
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.annotate import annotated_workbook
from merchant.spreadsheets.imports.cells import ShownNumber, digits_format, shown_number, to_code, to_int
from merchant.spreadsheets.imports.reader import sniff_format

from .factories import ProductFactory
from .import_files import BILLION_LAUGHS, csv_bytes, make_job, replace_parts, row_errors, xlsx_bytes

pytestmark = pytest.mark.usefixtures("english")
FIXTURES = Path(__file__).parent / "fixtures"
STOCK = [["erp_product_id", "stock"]]
NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
      'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
      'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
      'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"')


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def stocked(merchant_a):
    return [ProductFactory(merchant=merchant_a, erp_product_id=f"P-{i}", stock=1) for i in (1, 2, 3)]


def checked(merchant, kind: str, content: bytes, name: str):
    job = make_job(merchant, kind, content, name=name, file_format=sniff_format(name))
    pipeline.validate(job)
    job.refresh_from_db()
    return job


def refused(job, *fragments):
    assert job.status == ImportStatus.FAILED
    for fragment in fragments:
        assert fragment in job.error, job.error


def stock_of(merchant) -> dict:
    return dict(Product.objects.filter(merchant=merchant).values_list("erp_product_id", "stock"))


def text_cell(text: str, extra: str = "") -> str:
    return f'<table:table-cell office:value-type="string"{extra}><text:p>{text}</text:p></table:table-cell>'


def number_cell(value, shown: str | None = None, extra: str = "") -> str:
    return (f'<table:table-cell office:value-type="float" office:value="{value}"{extra}>'
            f'<text:p>{value if shown is None else shown}</text:p></table:table-cell>')


def row(*cells: str, extra: str = "") -> str:
    return f"<table:table-row{extra}>{''.join(cells)}</table:table-row>"


def ods_bytes(tables: dict[str, list[str]], *, styles: str = "", hidden: tuple = (), doctype: str = "") -> bytes:
    """An .ods as LibreOffice lays it out (the committed fixture's other parts) with content.xml made of tables
    {name: rows}; names in hidden get a table style that hides them."""
    hide_style = ' table:style-name="hide"'
    body = "".join(f'<table:table table:name="{name}"{hide_style if name in hidden else ""}>'
                   f'{"".join(rows)}</table:table>' for name, rows in tables.items())
    hide = ('<style:style style:name="hide" style:family="table"><style:table-properties table:display="false"/>'
            '</style:style>')
    content = (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<office:document-content {NS}>'
               f'<office:automatic-styles>{hide}{styles}</office:automatic-styles><office:body><office:spreadsheet>'
               f'{body}</office:spreadsheet></office:body></office:document-content>')
    return replace_parts((FIXTURES / "products.ods").read_bytes(), {"content.xml": content.encode()})


STOCK_ODS_HEADER = row(text_cell("erp_product_id"), text_cell("stock"))


# --- the header: which sheet, duplicate columns -------------------------------------------------------------

def test_two_columns_with_one_meaning_are_refused_naming_both(merchant_a, stocked):
    header = ["erp_product_id", "库存", "remark", "库存\nStock"]
    job = checked(merchant_a, "stock", xlsx_bytes([header, ["P-1", 5, "", 6]]), "stock.xlsx")
    refused(job, "Row 1: columns B and D are both 库存/Stock. Delete or rename one of them")
    job = checked(merchant_a, "stock", csv_bytes([["title"], header, ["P-1", 5, "", 6]]), "stock.csv")
    refused(job, "Row 2: columns B and D are both 库存/Stock.")
    assert set(stock_of(merchant_a).values()) == {1}


def test_the_first_sheet_with_a_header_is_read_and_the_others_named(merchant_a, stocked):
    content = ods_bytes({"说明": [row(text_cell("在下一页填写库存"))], "库存": [STOCK_ODS_HEADER, row(
        text_cell("P-1"), number_cell(7))], "物流公司": [row(text_cell("SF"))], "旧": [STOCK_ODS_HEADER]},
        hidden=("旧",))
    job = checked(merchant_a, "stock", content, "stock.ods")
    assert job.status == ImportStatus.PREVIEW, job.error
    assert job.warnings == ["Hidden sheets were not read: 旧.", "Read sheet 库存; skipped 说明, 物流公司."]
    pipeline.apply(job, actor=import_actor(None, None))
    assert stock_of(merchant_a) == {"P-1": 7, "P-2": 1, "P-3": 1}


def test_without_a_header_on_any_sheet_the_message_names_the_sheets_read(merchant_a, stocked):
    content = xlsx_bytes([["品名", "数量"], ["x", 1]], extra_sheet=[["备注"]])
    refused(checked(merchant_a, "stock", content, "stock.xlsx"),
            "No header row naming the columns was found on any sheet (read: Sheet from row 1, other from row 1).")
    refused(checked(merchant_a, "stock", xlsx_bytes([["品名", "数量"]]), "stock.xlsx"),
            "No header row naming the columns was found (row 1 of sheet Sheet was read as the header).")


# --- zero padding ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("number_format, shape", [
    ("0000000000000", ("", 13, "")), ("000000", ("", 6, "")), ('"SKU"0000', ("SKU", 4, "")), ("\\N000", ("N", 3, "")),
    ("000000;-000000", ("", 6, "")), ("0", None), ("General", None), ("0.00", None), ("#,##0", None),
    ("yyyy-mm-dd", None), ("@", None), ('"1"000', None),
])
def test_only_formats_that_pad_whole_numbers_are_read_as_shown(number_format, shape):
    assert digits_format(number_format) == shape


def test_a_shown_number_is_its_text_in_code_columns_and_its_number_elsewhere():
    barcode = shown_number(12345678905.0, ("", 13, ""))
    assert isinstance(barcode, ShownNumber) and str(barcode) == "0012345678905"
    assert (to_code(barcode, 64), to_int(shown_number(7, ("", 3, "")))) == ("0012345678905", 7)
    assert shown_number(12345, ("", 3, "")) == 12345 and type(shown_number(12345, ("", 3, ""))) is int
    assert shown_number(1.5, ("", 3, "")) == 1.5


def test_zero_padded_numbers_in_an_xlsx_keep_their_zeros_in_every_code_column(merchant_a):
    header = ["erp_product_id", "name", "barcode", "approval_number", "default_price"]
    content = xlsx_bytes([header, [42, "a", 12345678905, 20003263, 12]],
                         styles={"A2": "000000", "C2": "0000000000000", "D2": '"H"00000000', "E2": "000"})
    job = checked(merchant_a, "products", content, "p.xlsx")
    assert job.status == ImportStatus.PREVIEW, job.error
    pipeline.apply(job, actor=import_actor(None, None))
    product = Product.objects.get(merchant=merchant_a)
    assert (product.erp_product_id, product.barcode, product.approval_number, product.default_price) == (
        "000042", "0012345678905", "H20003263", 12)


def test_an_ods_number_shown_zero_padded_keeps_its_zeros(merchant_a):
    content = ods_bytes({"商品": [row(text_cell("erp_product_id"), text_cell("barcode"), text_cell("name"),
                                      text_cell("default_price")),
                                  row(number_cell(42, "000042"), number_cell(12345678905, "0012345678905"),
                                      text_cell("a"), number_cell(12, "012"))]})
    job = checked(merchant_a, "products", content, "p.ods")
    pipeline.apply(job, actor=import_actor(None, None))
    product = Product.objects.get(merchant=merchant_a)
    assert (product.erp_product_id, product.barcode, product.default_price) == ("000042", "0012345678905", 12)


def test_an_xls_under_an_xlsx_name_is_read_for_what_it_is(merchant_a):
    job = checked(merchant_a, "products", (FIXTURES / "products.xls").read_bytes(), "export.xlsx")
    assert job.status == ImportStatus.PREVIEW, job.error
    assert job.new_count == 3


# --- the .ods reader's bounds ------------------------------------------------------------------------------

def test_ods_repeats_of_empty_rows_and_cells_only_move_the_position(merchant_a, stocked):
    empty_rows = row("<table:table-cell/>", extra=' table:number-rows-repeated="1048000"')
    empty_cells = '<table:table-cell table:number-columns-repeated="16382"/>'
    content = ods_bytes({"s": [STOCK_ODS_HEADER, empty_rows, row(text_cell("P-2"), number_cell(4), empty_cells)]})
    job = checked(merchant_a, "stock", content, "s.ods")
    assert job.status == ImportStatus.PREVIEW, job.error
    assert job.rows.get().row_number == 1048002


def test_an_ods_row_repeated_is_bounded_by_the_row_limit_without_holding_the_copies(merchant_a, stocked, settings):
    settings.IMPORT_MAX_ROWS = 1000
    content = ods_bytes({"s": [STOCK_ODS_HEADER, row(text_cell("P-1"), number_cell(2),
                                                     extra=' table:number-rows-repeated="1000000"')]})
    tracemalloc.start()
    try:
        job = checked(merchant_a, "stock", content, "s.ods")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    refused(job, "more than 1,000 data rows")
    assert peak < 50 * 1024 * 1024


def test_an_ods_row_past_the_last_row_is_refused(merchant_a, stocked):
    content = ods_bytes({"s": [STOCK_ODS_HEADER, row(text_cell("P-1"), number_cell(2),
                                                     extra=' table:number-rows-repeated="2000000"')]})
    refused(checked(merchant_a, "stock", content, "s.ods"), "row 2 repeats beyond the last row a sheet may have")


@pytest.mark.parametrize("cells, message", [
    (text_cell("x", ' table:number-columns-repeated="300"'), "Row 2 has more than 200 cells with content"),
    (text_cell("x", ' table:number-columns-repeated="20000"'), "more than Excel allows in a row"),
    (text_cell("x" * 5000), "Row 2 holds more than 1,000 characters"),
])
def test_an_ods_row_past_a_bound_is_refused_naming_it(merchant_a, stocked, settings, cells, message):
    settings.IMPORT_MAX_ROW_CHARS = 1000
    content = ods_bytes({"s": [STOCK_ODS_HEADER, row(text_cell("P-1"), number_cell(2), cells)]})
    refused(checked(merchant_a, "stock", content, "s.ods"), message)


def test_merged_cells_in_an_ods_make_their_rows_invalid(merchant_a, stocked):
    content = ods_bytes({"s": [STOCK_ODS_HEADER,
                               row(text_cell("P-1"), number_cell(2, extra=' table:number-rows-spanned="2"')),
                               row(text_cell("P-2"), '<table:covered-table-cell/>'),
                               row(text_cell("P-3"), number_cell(3))]})
    job = checked(merchant_a, "stock", content, "s.ods")
    assert set(row_errors(job)) == {2, 3}
    assert "merged cells B2:B3" in row_errors(job)[2]["stock"]


def test_an_ods_declaring_entities_is_refused(merchant_a, stocked):
    content = ods_bytes({"s": [STOCK_ODS_HEADER]}, doctype=BILLION_LAUGHS)
    refused(checked(merchant_a, "stock", content, "s.ods"), "it declares XML entities, which are refused")
    styles = replace_parts(ods_bytes({"s": [STOCK_ODS_HEADER]}), {
        "styles.xml": f'<?xml version="1.0"?>{BILLION_LAUGHS}<office:document-styles {NS}/>'.encode()})
    refused(checked(merchant_a, "stock", styles, "s.ods"), "it declares XML entities, which are refused")


def test_an_ods_zip_bomb_and_an_ods_unpacking_too_large_are_refused(merchant_a, stocked, settings):
    bomb = replace_parts(ods_bytes({"s": [STOCK_ODS_HEADER]}), {"Thumbnails/big.xml": b" " * (20 * 1024 * 1024)})
    refused(checked(merchant_a, "stock", bomb, "s.ods"), "possible zip bomb", "Thumbnails/big.xml")
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 5000
    refused(checked(merchant_a, "stock", (FIXTURES / "products.ods").read_bytes(), "p.ods"), "unpacks to")


def test_a_password_protected_ods_and_a_too_large_file_are_refused(merchant_a, stocked, settings):
    ods = (FIXTURES / "products.ods").read_bytes()
    manifest = zipfile.ZipFile(io.BytesIO(ods)).read("META-INF/manifest.xml").replace(
        b"</manifest:manifest>",
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        b'<manifest:encryption-data manifest:checksum-type="SHA1/1K"/></manifest:file-entry></manifest:manifest>')
    refused(checked(merchant_a, "stock", replace_parts(ods, {"META-INF/manifest.xml": manifest}), "p.ods"),
            "password-protected")
    settings.IMPORT_MAX_BYTES = 1000
    refused(checked(merchant_a, "products", ods, "p.ods"), "more than the 1,000 bytes allowed")


def test_the_ods_row_limit_holds(merchant_a, settings):
    settings.IMPORT_MAX_ROWS = 2
    refused(checked(merchant_a, "products", (FIXTURES / "products.ods").read_bytes(), "p.ods"), "more than 2 data rows")


# --- the .xls reader's bounds ------------------------------------------------------------------------------

def test_an_xls_over_its_size_bound_is_refused_before_it_is_read(merchant_a, settings):
    settings.IMPORT_MAX_XLS_BYTES = 4096
    refused(checked(merchant_a, "products", (FIXTURES / "products.xls").read_bytes(), "p.xls"),
            "more than the 4,096 bytes an old-format workbook may be", "Save it as .xlsx")


@pytest.mark.parametrize("setting, value, message", [
    ("IMPORT_MAX_ROWS", 2, "more than 2 data rows"),
    ("IMPORT_MAX_COLUMNS", 4, "Sheet 商品: Row 1 has more than 4 cells with content"),
    ("IMPORT_MAX_ROW_CHARS", 20, "Sheet 说明: Row 2 holds more than 20 characters of text"),
])
def test_the_xls_row_bounds_hold(merchant_a, settings, setting, value, message):
    setattr(settings, setting, value)
    refused(checked(merchant_a, "products", (FIXTURES / "products.xls").read_bytes(), "p.xls"), message)


def test_the_checked_workbook_of_an_ods_keeps_zero_padded_codes_as_their_text(merchant_a):
    content = ods_bytes({"商品": [row(text_cell("erp_product_id"), text_cell("barcode"), text_cell("default_price")),
                                  row(number_cell(42, "000042"), number_cell(12345678905, "0012345678905"),
                                      text_cell("free"))]})
    job = checked(merchant_a, "products", content, "p.ods")
    assert set(row_errors(job)) == {2}
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(annotated_workbook(job)))).worksheets[0]
    assert (sheet["A2"].value, sheet["B2"].value) == ("000042", "0012345678905")


@pytest.mark.parametrize("name", ["stock.ods", "stock.xls", "stock-libreoffice.xlsx"])
def test_libreoffice_hidden_sheets_are_named_and_merged_cells_make_their_rows_invalid(merchant_a, stocked, name):
    job = checked(merchant_a, "stock", (FIXTURES / name).read_bytes(), name)

    assert job.status == ImportStatus.PREVIEW, job.error
    assert job.warnings == ["Hidden sheets were not read: 旧库存."]
    assert set(row_errors(job)) == {3, 4}
    assert "merged cells B3:B4" in row_errors(job)[3]["stock"]
    pipeline.apply(job, actor=import_actor(None, None), valid_only=True)
    assert stock_of(merchant_a) == {"P-1": 5, "P-2": 1, "P-3": 1}
