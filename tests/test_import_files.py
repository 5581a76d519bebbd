"""Bad, hostile and oddly made files: each gets a clear message (for the file or for the cell) and a file
that cannot be read changes nothing."""
import io
import os
import tracemalloc
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest

from merchant.models import Batch, ImportRow, ImportStatus, Product
from merchant.services.imports import import_actor
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.reader import ImportFileError, open_source, sniff_format

from .factories import ProductFactory
from .import_files import (
    SHEET, billion_laughs_sheet, billion_laughs_shared_strings, cell_xml, crafted_xlsx, csv_bytes, inline_header,
    make_job,
    ole_bytes, plain_zip_bytes, png_bytes, replace_parts, row_errors, shared_strings_xlsx, sheet_xml, validated,
    understated_zip_bomb_xlsx, wide_row_csv, wide_row_xlsx, xlsx_bytes, zip_bomb_xlsx,
)

pytestmark = pytest.mark.usefixtures("english")

STOCK = [["erp_product_id", "stock"]]
BATCH_HEADER = ["erp_product_id", "batch_no", "production_date", "expiry_date", "quantity"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def stocked(merchant_a):
    """Products P-1..P-3 with stock 1, for stock imports."""
    return [ProductFactory(merchant=merchant_a, erp_product_id=f"P-{i}", stock=1) for i in (1, 2, 3)]


def assert_refused(job, *fragments):
    """The file was refused as a whole, with a message saying why, and left nothing behind."""
    assert job.status == ImportStatus.FAILED
    for fragment in fragments:
        assert fragment in job.error
    assert not ImportRow.objects.filter(job=job).exists()
    assert (job.rows_total, job.new_count, job.changed_count, job.invalid_count) == (0, 0, 0, 0)


def stock_of(merchant):
    return dict(Product.objects.filter(merchant=merchant).values_list("erp_product_id", "stock"))


# --- not a spreadsheet ------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, name, message", [
    (os.urandom(4096), "random.xlsx", "not an Excel or LibreOffice workbook (.xlsx, .xls, .ods) even though its name says so"),
    (png_bytes(), "picture.xlsx", "not an Excel or LibreOffice workbook (.xlsx, .xls, .ods) even though its name says so"),
    (plain_zip_bytes(), "archive.xlsx", "a zip archive but not an Excel workbook"),
    (b"PK\x03\x04" + os.urandom(2048), "truncated.xlsx", "damaged (not a readable zip archive)"),
    (png_bytes(), "picture.csv", "not a CSV text file"),
    (b"\x00\x01\x02" + os.urandom(2048), "binary.csv", "not a CSV text file"),
    (xlsx_bytes(STOCK + [["P-1", 5]]), "workbook.csv", "not a CSV text file"),
    (b"", "empty.xlsx", "The file is empty."),
], ids=["random-bytes", "png", "zip", "broken-zip", "png-csv", "binary-csv", "xlsx-as-csv", "empty"])
def test_a_file_that_is_not_a_spreadsheet_is_refused_with_a_message(merchant_a, stocked, content, name, message):
    job = validated(merchant_a, "stock", content=content, name=name)
    assert_refused(job, message)
    assert set(stock_of(merchant_a).values()) == {1}


def test_a_password_protected_workbook_is_refused_with_how_to_remove_the_password(merchant_a):
    job = validated(merchant_a, "stock", content=ole_bytes(encrypted=True), name="secret.xlsx")
    assert_refused(job, "password-protected")


def test_a_damaged_xls_workbook_is_refused_with_save_as_xlsx(merchant_a):
    """An OLE container that is no readable workbook, under either name: xlrd's own words are not repeated."""
    for name in ("old.xlsx", "old.xls"):
        job = validated(merchant_a, "stock", content=ole_bytes(encrypted=False), name=name)
        assert_refused(job, "The .xls workbook is damaged", "save it as .xlsx")
        assert "little-endian" not in job.error
    assert (sniff_format("old.xls"), sniff_format("Book.ODS")) == ("xls", "ods")


@pytest.mark.parametrize("name", ["notes.docx", "data.json", "noextension"])
def test_other_file_names_are_refused_before_reading(name):
    with pytest.raises(ImportFileError, match=r"Upload an Excel or LibreOffice workbook \(.xlsx, .xlsm, .xls, "
                                              r"\.ods\) or a CSV file\."):
        sniff_format(name)


# --- zip bombs, entity expansion, limits ------------------------------------------------------------------

def test_a_zip_bomb_is_refused_by_its_compression_ratio(merchant_a):
    content = zip_bomb_xlsx(50 * 1024 * 1024)
    assert len(content) < 50 * 1024 * 1024 / 200
    job = validated(merchant_a, "stock", content=content, name="bomb.xlsx")
    assert_refused(job, "possible zip bomb", "xl/worksheets/sheet1.xml")


def test_a_zip_bomb_understating_its_size_is_cut_off_at_the_declared_size(merchant_a):
    job = validated(merchant_a, "stock", content=understated_zip_bomb_xlsx(), name="liar.xlsx")
    assert_refused(job, "cannot be read")


def test_a_workbook_unpacking_beyond_the_limit_is_refused(merchant_a, stocked, settings):
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 5000
    rows = STOCK + [[f"P-{i % 3 + 1}", i] for i in range(300)]
    job = validated(merchant_a, "stock", content=xlsx_bytes(rows), name="big.xlsx")
    assert_refused(job, "The workbook unpacks to", "more than the")
    assert set(stock_of(merchant_a).values()) == {1}


def test_a_workbook_with_shared_strings_as_excel_writes_it_is_read(merchant_a, stocked):
    job = validated(merchant_a, "stock", content=shared_strings_xlsx(STOCK + [["P-1", 5], ["P-2", "6"]]))
    assert (job.status, job.changed_count) == (ImportStatus.PREVIEW, 2)


def test_entity_expansion_in_shared_strings_is_refused(merchant_a):
    content = billion_laughs_shared_strings(STOCK + [["LOL", 5]])
    job = validated(merchant_a, "stock", content=content, name="laughs.xlsx")
    assert_refused(job, "it declares XML entities, which are refused")
    assert "/" not in job.error  # no server path in the message


def test_an_external_entity_is_refused(merchant_a):
    content = shared_strings_xlsx(STOCK + [["SECRET", 5]], doctype='<!DOCTYPE sst [<!ENTITY xxe SYSTEM '
                                  '"file:///etc/passwd">]>', raw={"SECRET": "&xxe;"})
    job = validated(merchant_a, "stock", content=content, name="xxe.xlsx")
    assert_refused(job, "it declares XML entities, which are refused")


def test_entity_expansion_in_the_sheet_is_refused(merchant_a):
    job = validated(merchant_a, "stock", content=billion_laughs_sheet(["erp_product_id", "stock"]),
                    name="laughs.xlsx")
    assert_refused(job, "it declares XML entities, which are refused")


def test_more_data_rows_than_the_limit_are_refused_and_nothing_is_kept(merchant_a, stocked, settings):
    settings.IMPORT_MAX_ROWS = 3
    job = validated(merchant_a, "stock", STOCK + [["P-1", 5], [], ["P-2", 5], ["P-3", 5]])
    assert job.status == ImportStatus.PREVIEW  # blank rows do not count
    job = validated(merchant_a, "stock", STOCK + [["P-1", 5], ["P-2", 5], ["P-3", 5], ["P-1", 6]])
    assert_refused(job, "more than 3 data rows")


def test_a_file_larger_than_the_limit_is_refused(merchant_a, settings):
    content = xlsx_bytes(STOCK + [["P-1", 5]])
    settings.IMPORT_MAX_BYTES = len(content) - 1
    job = validated(merchant_a, "stock", content=content)
    assert_refused(job, "more than the")
    settings.IMPORT_MAX_BYTES = len(content)
    assert validated(merchant_a, "stock", content=content).status == ImportStatus.PREVIEW


def test_a_row_with_too_many_columns_is_refused(merchant_a):
    job = validated(merchant_a, "stock", [["erp_product_id", "stock", *range(300)]])
    assert_refused(job, "Row 1 has more than 200 cells with content")


# --- one row must not take the worker's memory ----------------------------------------------------------------

def _parse_peak(tmp_path, content: bytes, file_format: str) -> tuple[int, str]:
    """(peak traced memory, refusal) of reading the file through the reader as the pipeline does."""
    path = tmp_path / f"upload.{file_format}"
    path.write_bytes(content)
    tracemalloc.start()
    try:
        source = open_source(str(path), file_format)
        try:
            for _row in source.rows():
                pass
        finally:
            source.close()
    except ImportFileError as error:
        refusal = str(error)
    else:
        refusal = ""
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, refusal


def test_a_data_row_with_more_cells_than_the_limit_is_refused_naming_the_row(merchant_a, stocked, settings):
    settings.IMPORT_MAX_COLUMNS = 200
    job = validated(merchant_a, "stock", content=wide_row_xlsx(5000))
    assert_refused(job, "Row 2 has more than 200 cells with content, the most one row may have.")
    assert set(stock_of(merchant_a).values()) == {1}

    assert validated(merchant_a, "stock", content=wide_row_xlsx(2)).status == ImportStatus.PREVIEW  # within it


def test_a_wide_row_is_refused_with_memory_far_below_what_reading_it_would_take(tmp_path, settings):
    # 400,000 cells without r= attributes: read into a row they took ~50 MB (6 times the sheet's size).
    settings.IMPORT_MAX_COLUMNS = 200
    content = wide_row_xlsx(400_000)
    unpacked = zipfile.ZipFile(io.BytesIO(content)).getinfo(SHEET).file_size

    peak, refusal = _parse_peak(tmp_path, content, "xlsx")

    assert refusal.startswith("Row 2 has more than 200 cells with content")
    assert peak < unpacked / 4, (peak, unpacked)


@pytest.mark.parametrize("cell, repeat, what", [
    ('<c t="inlineStr"><is><t>' + "9" * 3000 + "</t></is></c>", 4, "Row 2 holds more than 10,000 characters of text"),
    ('<c t="inlineStr"><is>' + "<t/>" * 3000 + "</is></c>", 4, "Row 2 holds more than 10,000 characters of text"),
    ("<c><v>" + "7" * 3000 + "</v></c>", 4, "Row 2 holds more than 10,000 characters of text"),
    ("<c/>", 20_000, "Row 2 has more than 16,384 cells, more than Excel allows in a row"),
], ids=["long-text", "many-text-runs", "long-number", "empty-cells"])
def test_a_row_of_too_much_text_or_too_many_cells_of_any_kind_is_refused(merchant_a, settings, cell, repeat, what):
    settings.IMPORT_MAX_ROW_CHARS = 10_000
    assert_refused(validated(merchant_a, "stock", content=wide_row_xlsx(repeat, cell=cell)), what)


def test_a_row_of_too_much_shared_text_is_refused(merchant_a, settings):
    settings.IMPORT_MAX_ROW_CHARS = 10_000
    long_text = "x" * 4000  # held once in the shared strings table, named three times in row 2
    job = validated(merchant_a, "stock", content=shared_strings_xlsx(STOCK + [[long_text, long_text, long_text]]))
    assert_refused(job, "Row 2 holds more than 10,000 characters of text")


def test_a_csv_row_with_more_cells_than_the_limit_is_refused_naming_the_row(merchant_a, stocked, settings):
    settings.IMPORT_MAX_COLUMNS = 200
    job = validated(merchant_a, "stock", content=wide_row_csv(5000), name="stock.csv")
    assert_refused(job, "Row 2 has more than 200 cells with content, the most one row may have.")
    job = validated(merchant_a, "stock", content=wide_row_csv(20_000, field=""), name="stock.csv")
    assert_refused(job, "Row 2 has more than 16,384 cells, more than Excel allows in a row")


def test_a_long_csv_row_is_refused_before_it_is_read_whole(merchant_a, tmp_path, settings):
    # 4,000,000 fields on one line: csv.reader made a list of them all (~180 MB for half this).
    settings.IMPORT_MAX_ROW_CHARS = 100_000
    content = wide_row_csv(4_000_000)

    peak, refusal = _parse_peak(tmp_path, content, "csv")

    assert refusal.startswith("Row 2 holds more than 100,000 characters of text")
    assert peak < len(content) / 2, (peak, len(content))
    # One long cell is refused in the same words, not csv's own ("field larger than field limit").
    long_cell = b"erp_product_id,stock\n" + b"P-1," + b"9" * 200_000 + b"\n"
    assert_refused(validated(merchant_a, "stock", content=long_cell, name="stock.csv"),
                   "Row 2 holds more than 100,000 characters of text")
    settings.IMPORT_MAX_ROW_CHARS = 300_000
    assert validated(merchant_a, "stock", content=long_cell, name="stock.csv").status == ImportStatus.PREVIEW
    settings.IMPORT_MAX_ROW_CHARS = 100_000
    # A record spread over lines by a quoted line break is one row, counted whole.
    quoted = b'erp_product_id,stock\nP-1,5\n"' + b"a\n" * 60_000 + b'",1\n'
    assert_refused(validated(merchant_a, "stock", content=quoted, name="stock.csv"),
                   "Row 3 holds more than 100,000 characters of text")


def test_a_sheet_without_a_header_naming_known_columns_is_refused(merchant_a):
    job = validated(merchant_a, "stock", [["a", "b"], ["P-1", 5]])
    assert_refused(job, "No header row naming the columns was found", "Download the template")


def test_an_empty_sheet_is_refused(merchant_a):
    assert_refused(validated(merchant_a, "stock", []), "no header row was found")


# --- formulas and error values ----------------------------------------------------------------------------

def test_formulas_use_their_cached_value_and_a_formula_without_one_is_a_cell_error(merchant_a, stocked):
    content = crafted_xlsx([
        inline_header(["erp_product_id", "stock"]),
        [cell_xml("A2", "P-1", kind="inlineStr"), cell_xml("B2", 7, formula="3+4")],
        [cell_xml("A3", "P-2", kind="inlineStr"), cell_xml("B3", formula="3+5")],
        [cell_xml("A4", "P-3", kind="str", formula='"P-"&amp;3'), cell_xml("B4", 9)],
    ])
    job = validated(merchant_a, "stock", content=content)
    assert job.status == ImportStatus.PREVIEW, job.error
    assert list(row_errors(job)) == [3]
    assert "the formula has no saved result" in row_errors(job)[3]["stock"]
    assert job.rows.get(row_number=3).errors[0]["value"] == "=?"
    assert job.changed_count == 2
    pipeline.apply(job, actor=import_actor(None, None), valid_only=True)
    assert stock_of(merchant_a) == {"P-1": 7, "P-2": 1, "P-3": 9}


def test_a_formulas_float_noise_is_read_as_excel_shows_it(merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1", default_price=Decimal("12.30"))
    content = crafted_xlsx([
        inline_header(["erp_product_id", "default_price", "stock"]),
        [cell_xml("A2", "P-1", kind="inlineStr"), cell_xml("B2", "13.530000000000001", formula="12.3*1.1"),
         cell_xml("C2", "2.9999999999999996", formula="0.3*10")],
    ])
    job = validated(merchant_a, "products", content=content)
    assert row_errors(job) == {}
    assert job.rows.get().changes["default_price"] == ["12.30", "13.53"]
    pipeline.apply(job, actor=import_actor(None, None))
    product.refresh_from_db()
    assert (product.default_price, product.stock) == (Decimal("13.53"), 3)


@pytest.mark.parametrize("how", ["openpyxl", "crafted"])
def test_an_excel_error_value_is_a_cell_error(merchant_a, stocked, how):
    if how == "openpyxl":
        content = xlsx_bytes(STOCK + [["P-1", "#N/A"], ["P-2", "#DIV/0!"]])
    else:
        content = crafted_xlsx([inline_header(["erp_product_id", "stock"]),
                                [cell_xml("A2", "P-1", kind="inlineStr"), cell_xml("B2", "#N/A", kind="e")],
                                [cell_xml("A3", "P-2", kind="inlineStr"), cell_xml("B3", "#DIV/0!", kind="e")]])
    job = validated(merchant_a, "stock", content=content)
    assert row_errors(job) == {2: {"stock": "the cell holds the error #N/A"},
                               3: {"stock": "the cell holds the error #DIV/0!"}}


# --- dates, numbers as text, full-width digits ---------------------------------------------------------------

@pytest.mark.parametrize("production", [
    "2026-03-01", "2026/3/1", "20260301", "2026年3月1日", "2026.3.1", "２０２６－０３－０１", 46082, 46082.5,
    "46082", datetime(2026, 3, 1, 8, 30), date(2026, 3, 1), 20260301,
], ids=["iso", "slashes", "compact", "chinese", "dots", "full-width", "serial", "serial-time", "serial-text",
        "datetime-cell", "date-cell", "compact-number"])
def test_batch_dates_are_read_from_date_cells_serial_numbers_and_usual_text(merchant_a, production):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    job = validated(merchant_a, "batches", [BATCH_HEADER, ["P-1", "B1", production, "2028-02-29", 5]])
    assert row_errors(job) == {}
    pipeline.apply(job, actor=import_actor(None, None))
    assert product.batches.get().production_date == date(2026, 3, 1)


def test_a_date_styled_serial_cell_and_an_unstyled_one_read_the_same(merchant_a):
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    content = xlsx_bytes([BATCH_HEADER, ["P-1", "B1", 46082, 46812, 5], ["P-1", "B2", 46082, 46812, 5]],
                         styles={"C2": "yyyy-mm-dd", "D2": "yyyy/m/d"})
    job = validated(merchant_a, "batches", content=content)
    assert row_errors(job) == {}
    pipeline.apply(job, actor=import_actor(None, None))
    assert set(product.batches.values_list("production_date", "expiry_date")) == {(date(2026, 3, 1),
                                                                                   date(2028, 2, 29))}


@pytest.mark.parametrize("text", ["2026-02-30", "next week", "0", "2026-13-01", "99999999"])
def test_a_date_that_cannot_be_read_is_a_cell_error(merchant_a, text):
    ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    job = validated(merchant_a, "batches", [BATCH_HEADER, ["P-1", "B1", text, "2028-02-29", 5]])
    assert list(row_errors(job)) == [2]
    assert "not a date" in row_errors(job)[2]["production_date"]


def test_numbers_stored_as_text_and_full_width_digits_are_read(merchant_a):
    job = validated(merchant_a, "products", [
        ["erp_product_id", "name", "barcode", "default_price", "suggested_retail_price", "stock"],
        ["P-1", "Text numbers", "6901234567892", "12.50", " 1,299.00 ", "100"],
        ["P-2", "Full width", "６９０１２３４５６７８９２", "１２.５", "￥１９.９", "１２３"],
        ["P-3", "Numbers", 6901234567892, 12.5, 19.9, 7.0],
    ])
    assert row_errors(job) == {}
    pipeline.apply(job, actor=import_actor(None, None))
    found = {p.erp_product_id: (p.barcode, p.default_price, p.suggested_retail_price, p.stock)
             for p in Product.objects.filter(merchant=merchant_a)}
    assert found == {
        "P-1": ("6901234567892", Decimal("12.50"), Decimal("1299.00"), 100),
        "P-2": ("6901234567892", Decimal("12.50"), Decimal("19.90"), 123),
        "P-3": ("6901234567892", Decimal("12.50"), Decimal("19.90"), 7),
    }


def test_a_fractional_stock_is_a_cell_error(merchant_a, stocked):
    job = validated(merchant_a, "stock", STOCK + [["P-1", 2.5], ["P-2", "3.0"], ["P-3", "lots"]])
    assert row_errors(job) == {2: {"stock": "must be a whole number"}, 4: {"stock": "not a number"}}
    assert job.changed_count == 1  # "3.0" is a whole number


@pytest.mark.parametrize("value", ["1e999999999", "-1e999999999", "2147483648", 1e16, "9" * 400])
def test_a_huge_number_is_a_cell_error_not_a_failed_check(merchant_a, stocked, value):
    job = validated(merchant_a, "stock", STOCK + [["P-1", value], ["P-2", 2]])
    assert job.status == ImportStatus.PREVIEW, job.error
    assert row_errors(job) == {2: {"stock": "too large"}}
    assert job.changed_count == 1


# --- layout: merged cells, title rows, hidden sheets, blank rows ----------------------------------------------

def test_merged_cells_in_the_data_area_make_the_rows_invalid_naming_the_range(merchant_a, stocked):
    content = xlsx_bytes(STOCK + [["P-1", 5], ["P-2", 5], ["P-3", 6]], merged=["B2:B3"])
    job = validated(merchant_a, "stock", content=content)
    reason = "merged cells B2:B3: unmerge them and fill in every cell"
    assert row_errors(job) == {2: {"stock": reason}, 3: {"stock": reason}}
    assert (job.invalid_count, job.changed_count) == (2, 1)


def test_more_merged_ranges_than_any_real_sheet_has_are_refused(merchant_a, stocked):
    rows = [inline_header(["erp_product_id", "stock"]), [cell_xml("A2", "P-1", kind="inlineStr"), cell_xml("B2", 5)]]
    job = validated(merchant_a, "stock", content=crafted_xlsx(rows, merged=[f"C{n}:D{n}" for n in range(1, 10002)]))
    assert_refused(job, "The worksheet has more than 10,000 merged ranges. Unmerge the cells")


def test_merged_ranges_repeated_over_the_same_rows_cost_one_mark_per_row(merchant_a):
    from types import SimpleNamespace

    validation = pipeline.Validation(make_job(merchant_a, "stock", b"unused"))
    validation.actions = bytearray(5)  # rows 0..4 read
    source = SimpleNamespace(header_row=1, merged_ranges=["B2:B1048576"] * 5000 + ["A3:B4", "C2:C9"])

    marks = validation._merged_cells(source, {1: "erp_product_id", 2: "stock"})

    assert sorted((row, column) for row, column, _reason in marks) == [
        (2, "stock"), (3, "erp_product_id"), (3, "stock"), (4, "erp_product_id"), (4, "stock")]


def test_a_merged_title_row_above_the_header_is_skipped(merchant_a, stocked):
    content = xlsx_bytes([["库存导入 2026年3月", None], ["ERP商品编码", "库存"], ["P-1", 5], ["P-2", 1]],
                         merged=["A1:B1"])
    job = validated(merchant_a, "stock", content=content)
    assert (job.status, job.changed_count, job.unchanged_count, job.invalid_count) == (
        ImportStatus.PREVIEW, 1, 1, 0)
    assert job.rows.get().row_number == 3


def test_a_hidden_first_sheet_is_skipped_with_a_warning(merchant_a, stocked):
    content = xlsx_bytes(STOCK + [["P-1", 5]], hidden_first_sheet=True)
    job = validated(merchant_a, "stock", content=content)
    assert job.changed_count == 1
    assert job.warnings == ["Hidden sheets were not read: secret."]


def test_of_two_sheets_with_headers_the_first_is_read_naming_the_other(merchant_a, stocked):
    content = xlsx_bytes(STOCK + [["P-1", 5]], extra_sheet=STOCK + [["P-2", 9]])
    job = validated(merchant_a, "stock", content=content)
    assert job.changed_count == 1
    assert job.warnings == ["Read sheet Sheet; skipped other."]


def test_blank_rows_are_skipped_and_errors_give_the_spreadsheets_row_numbers(merchant_a, stocked):
    job = validated(merchant_a, "stock", STOCK + [["P-1", 5], [], [None, None], ["P-2", -1], [], ["P-3", "x"]])
    assert job.rows_total == 3
    assert row_errors(job) == {5: {"stock": "stock cannot be negative"}, 7: {"stock": "not a number"}}
    assert job.rows.get(action="changed").row_number == 2


# --- the same record twice ---------------------------------------------------------------------------------

def test_the_same_erp_product_id_twice_makes_both_rows_invalid_naming_each_other(merchant_a):
    rows = [["erp_product_id", "name", "default_price"], ["P-1", "a", 1], ["P-2", "b", 1], ["P-1", "c", 1]]
    job = validated(merchant_a, "products", rows)
    assert row_errors(job) == {2: {"erp_product_id": "the same record is also on row 4"},
                               4: {"erp_product_id": "the same record is also on row 2"}}
    assert (job.new_count, job.invalid_count) == (1, 2)


def test_duplicates_are_found_across_chunks(merchant_a, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 2)
    ProductFactory(merchant=merchant_a, erp_product_id="P-1", name="same", stock=1)
    rows = [["erp_product_id", "name", "default_price"], ["P-1", "same", None], ["P-2", "b", 1], ["P-3", "c", 1],
            ["P-4", "d", 1], ["P-2", "e", 1], ["P-1", "f", 1]]
    job = validated(merchant_a, "products", rows)
    assert row_errors(job) == {
        2: {"erp_product_id": "the same record is also on row 7"},
        3: {"erp_product_id": "the same record is also on row 6"},
        6: {"erp_product_id": "the same record is also on row 3"},
        7: {"erp_product_id": "the same record is also on row 2"},
    }
    assert (job.new_count, job.changed_count, job.unchanged_count, job.invalid_count, job.rows_total) == (
        2, 0, 0, 4, 6)


def test_the_same_batch_twice_is_invalid_and_the_product_is_left_alone_with_valid_only(merchant_a, monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 1)
    product = ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    Batch.objects.create(product=product, batch_no="B1", production_date=date(2026, 1, 1),
                         expiry_date=date(2030, 1, 1), quantity=4)
    rows = [BATCH_HEADER, ["P-1", "B1", "2026-01-01", "2030-01-01", 4], ["P-1", "B2", "2026-01-01", "2030-01-01", 4],
            ["P-1", "B1", "2026-01-01", "2030-01-01", 5]]
    job = validated(merchant_a, "batches", rows)
    assert row_errors(job) == {2: {"batch_no": "the same record is also on row 4"},
                               4: {"batch_no": "the same record is also on row 2"}}
    pipeline.apply(job, actor=import_actor(None, None), valid_only=True)
    assert list(product.batches.values_list("batch_no", "quantity")) == [("B1", 4)]


# --- CSV encodings -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("gbk", False)],
                         ids=["utf-8", "utf-8-bom", "gbk"])
def test_csv_in_utf8_utf8_with_bom_and_gbk_is_read(merchant_a, encoding, bom):
    rows = [["ERP商品编码", "商品名称", "默认价", "库存"], ["P-1", "阿莫西林胶囊", "12.5", "3"],
            ["P-2", "布洛芬缓释胶囊, 0.3g", "８", ""]]
    job = validated(merchant_a, "products", content=csv_bytes(rows, encoding, bom), name="products.csv")
    assert (job.status, job.new_count, job.invalid_count, job.warnings) == (ImportStatus.PREVIEW, 2, 0, [])
    pipeline.apply(job, actor=import_actor(None, None))
    found = dict(Product.objects.filter(merchant=merchant_a).values_list("erp_product_id", "name"))
    assert found == {"P-1": "阿莫西林胶囊", "P-2": "布洛芬缓释胶囊, 0.3g"}


def test_csv_separated_by_semicolons_or_tabs_is_read(merchant_a, stocked):
    for separator in (";", "\t"):
        content = f"erp_product_id{separator}stock\r\nP-1{separator}4\r\nP-2{separator}6\r\n".encode()
        job = validated(merchant_a, "stock", content=content, name="stock.csv")
        assert (job.status, job.changed_count) == (ImportStatus.PREVIEW, 2), separator


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_csv_with_a_nul_byte_far_into_the_file_is_refused(merchant_a, stocked, encoding):
    rows = [["ERP商品编码", "库存"]] + [["P-1", "2"]] * 20000 + [["P-2\x00", "3"]]
    content = csv_bytes(rows, encoding)
    assert content.index(b"\x00") > 64 * 1024
    job = validated(merchant_a, "stock", content=content, name="stock.csv")
    assert_refused(job, "not a CSV text file")


def test_csv_in_neither_utf8_nor_gbk_is_refused(merchant_a):
    content = "erp_product_id,stock\n".encode() + b"\x81\x20\xff\xfe,1\n"
    job = validated(merchant_a, "stock", content=content, name="stock.csv")
    assert_refused(job, "neither UTF-8 nor GBK")


@pytest.mark.parametrize("numbers", [(2, 2000000000), (3, 2), (2, 2), (0, 2), (-5, 2)],
                         ids=["beyond-last-row", "descending", "repeated", "zero", "negative"])
def test_crafted_row_numbers_are_refused(merchant_a, stocked, numbers):
    rows = [inline_header(["erp_product_id", "stock"])]
    for index, number in enumerate(numbers):
        rows.append(f'<row r="{number}"><c t="inlineStr"><is><t>P-{index + 1}</t></is></c><c><v>5</v></c></row>')
    content = replace_parts(xlsx_bytes([["x"]]), {SHEET: sheet_xml([rows[0]]).replace(
        b"</sheetData>", "".join(rows[1:]).encode() + b"</sheetData>")})
    job = validated(merchant_a, "stock", content=content)
    assert_refused(job, "The worksheet is malformed", "out of order or beyond Excel's last row")
    assert set(stock_of(merchant_a).values()) == {1}


def test_a_merged_range_reaching_far_below_the_data_only_marks_the_rows_read(merchant_a, stocked):
    content = crafted_xlsx([inline_header(["erp_product_id", "stock"]),
                            [cell_xml("A2", "P-1", kind="inlineStr"), cell_xml("B2", 5)],
                            [cell_xml("A3", "P-2", kind="inlineStr"), cell_xml("B3", 5)]],
                           merged=["B3:B1048576"])
    job = validated(merchant_a, "stock", content=content)
    assert row_errors(job) == {3: {"stock": "merged cells B3:B1048576: unmerge them and fill in every cell"}}
    assert job.changed_count == 1


def test_excel_unicode_text_utf16_tab_separated_is_read(merchant_a, stocked):
    content = "erp_product_id\t库存\r\nP-1\t４\r\nP-2\t6\r\n".encode("utf-16")  # with its byte order mark
    job = validated(merchant_a, "stock", content=content, name="stock.csv")
    assert (job.status, job.changed_count, job.invalid_count) == (ImportStatus.PREVIEW, 2, 0)


def test_a_shared_strings_table_too_large_to_hold_is_refused(merchant_a, stocked, monkeypatch):
    from merchant.spreadsheets.imports import reader

    monkeypatch.setattr(reader, "MAX_WHOLE_PART", 100)
    job = validated(merchant_a, "stock", content=shared_strings_xlsx(STOCK + [["P-1", 5]]))
    assert_refused(job, "part unpacks to", "more than the 100 bytes that can be read", "Save the sheet as CSV")
