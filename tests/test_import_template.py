"""The import template (SPEC M4): bilingual headers the importer recognises, an example row it skips, dropdowns,
text-formatted code columns, a notes sheet; and the import_template command."""
import io
from datetime import date, datetime

import openpyxl
import pytest
from django.utils import translation
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl.utils import column_index_from_string, get_column_letter

from merchant.spreadsheets.imports.columns import KIND_COLUMNS, match_header
from merchant.spreadsheets.imports.reader import open_source
from merchant.spreadsheets.imports.template import (
    CARRIERS_SHEET, CODE_COLUMNS, DATA_SHEET, LISTS_SHEET, NOTES_SHEET, is_example_row, template_workbook,
)

from .factories import CarrierFactory, CustomerGroupFactory, RegionGroupFactory

KINDS = list(KIND_COLUMNS)


def load(kind: str) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(template_workbook(kind)))


def column_of(kind: str, key: str) -> str:
    keys = [column.key for column in KIND_COLUMNS[kind]]
    return get_column_letter(keys.index(key) + 1)


def validations_of(sheet, letter: str) -> list:
    return [dv for dv in sheet.data_validations.dataValidation if f"{letter}2" in dv.sqref]


def parsed_rows(kind: str, path) -> list[dict]:
    """The data rows of a saved template, parsed per column as the import pipeline parses them."""
    source = open_source(str(path), "xlsx", is_header=lambda values: bool(match_header(kind, values)[0]))
    try:
        mapping, _unknown = match_header(kind, source.header)
        columns = {column.key: column for column in KIND_COLUMNS[kind]}
        return [{key: columns[key].parse(cells[index]) for index, key in mapping.items() if index in cells}
                for _number, cells in source.rows()]
    finally:
        source.close()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_template_headers_are_recognised_for_every_column(kind):
    workbook = load(kind)

    sheet = workbook.worksheets[0]
    assert sheet.title == DATA_SHEET and sheet.sheet_state == "visible"
    header = {cell.column: cell.value for cell in sheet[1]}
    mapping, unknown = match_header(kind, header)
    assert sorted(mapping.values()) == sorted(column.key for column in KIND_COLUMNS[kind])
    assert unknown == []
    first = KIND_COLUMNS[kind][0]
    assert header[1] == f"{first.zh}\n{first.en}"
    assert sheet["A1"].font.b and sheet["A1"].alignment.wrap_text
    assert sheet.freeze_panes == "A2"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_template_notes_sheet_describes_every_column(kind):
    workbook = load(kind)

    notes = workbook[NOTES_SHEET]
    assert workbook.sheetnames.index(NOTES_SHEET) == 1
    rows = [row for row in notes.iter_rows(values_only=True)]
    by_key = {row[0]: row for row in rows[1:] if row and row[0]}
    for column in KIND_COLUMNS[kind]:
        key, zh, en, required, _note_zh, _note_en = by_key[column.key]
        assert (zh, en) == (column.zh, column.en)
        expected = {"always": "必填 Required", "create": "新建时必填 Required for new records", "": "选填 Optional"}
        assert required == expected[column.required]
    text = "\n".join(str(value) for row in rows for value in row if value)
    assert "blank cell leaves the field unchanged" in text
    assert "空白单元格表示该字段保持不变" in text
    assert "Row 2 is an example" in text


@pytest.mark.django_db
def test_product_notes_explain_matching_listing_and_blank_stock():
    notes = "\n".join(str(v) for row in load("products")[NOTES_SHEET].iter_rows(values_only=True) for v in row if v)

    assert "barcode + approval number + spec + manufacturer" in notes
    assert "with stock 0 it is ready (not listed)" in notes
    assert "blank stock means 0" in notes
    assert "importing its stock is refused" in notes


@pytest.mark.django_db
def test_required_columns_are_filled_differently_from_optional_ones():
    sheet = load("products").worksheets[0]

    colours = {key: sheet[f"{column_of('products', key)}1"].fill.fgColor.rgb
               for key in ("erp_product_id", "name", "barcode")}
    assert len(set(colours.values())) == 3  # always / for new records / optional
    assert sheet["A1"].fill.fill_type == "solid"


@pytest.mark.django_db
def test_price_type_has_a_dropdown_of_its_values():
    sheet = load("prices").worksheets[0]

    [validation] = validations_of(sheet, column_of("prices", "price_type"))
    assert validation.type == "list"
    # The words a merchant uses, in the language of the page: never the internal values.
    assert validation.formula1 == '"默认价,建议零售价,区域组价,客户组价"'
    assert "B1048576" in validation.sqref  # to the sheet's last row, like the column formats
    with translation.override("en"):
        [english] = validations_of(load("prices").worksheets[0], column_of("prices", "price_type"))
    assert english.formula1 == '"default price,suggested retail price,region group price,customer group price"'


@pytest.mark.django_db
def test_group_code_dropdown_lists_region_and_customer_groups_from_a_hidden_sheet():
    RegionGroupFactory(code="south", name="华南")
    RegionGroupFactory(code="north", name="华北")
    CustomerGroupFactory(code="chain-stores", name="连锁药店")

    workbook = load("prices")

    lists = workbook[LISTS_SHEET]
    assert lists.sheet_state == "hidden"
    names = [value for (value,) in lists.iter_rows(min_row=2, max_col=1, values_only=True)]
    assert sorted(names) == sorted(["华南", "华北", "连锁药店"])  # names, not the groups' codes
    [validation] = validations_of(workbook.worksheets[0], column_of("prices", "group_code"))
    assert validation.type == "list"
    assert validation.formula1 == f"'{LISTS_SHEET}'!$A$2:$A$4"
    assert [ws.title for ws in workbook.worksheets if ws.sheet_state == "visible"][0] == DATA_SHEET


@pytest.mark.django_db
def test_without_groups_there_is_no_group_dropdown():
    workbook = load("prices")

    assert LISTS_SHEET not in workbook.sheetnames
    assert validations_of(workbook.worksheets[0], column_of("prices", "group_code")) == []


@pytest.mark.django_db
def test_logistics_template_lists_the_active_carriers_on_a_sheet_its_carrier_dropdown_uses():
    CarrierFactory(code="SF", name="顺丰速运")
    CarrierFactory(code="YTO", name="圆通速递")
    CarrierFactory(code="TTKDEX", name="天天快递", is_active=False)

    workbook = load("logistics")

    carriers = workbook[CARRIERS_SHEET]
    assert carriers.sheet_state == "visible"
    assert list(carriers.iter_rows(values_only=True)) == [("编码 Code", "名称 Name"), ("SF", "顺丰速运"),
                                                          ("YTO", "圆通速递")]
    [validation] = validations_of(workbook.worksheets[0], column_of("logistics", "carrier"))
    assert validation.type == "list"
    assert validation.formula1 == f"'{CARRIERS_SHEET}'!$A$2:$A$3"
    assert workbook.worksheets[0].title == DATA_SHEET  # the importer reads the first visible sheet


@pytest.mark.django_db
def test_logistics_template_keeps_order_and_tracking_numbers_as_text_and_explains_partial_shipments():
    workbook = load("logistics")
    sheet = workbook.worksheets[0]

    for key in ("order_no", "tracking_no", "batch_no"):
        assert column_format(sheet, column_of("logistics", key)) == "@"
    assert CARRIERS_SHEET not in workbook.sheetnames  # no carriers yet: no list to refer to
    notes = "\n".join(str(v) for row in workbook[NOTES_SHEET].iter_rows(values_only=True) for v in row if v)
    assert "without a line it ships everything of the order not yet shipped" in notes
    assert "Rows of one order with one tracking number are one parcel" in notes


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_code_columns_are_text_and_date_columns_dates_as_whole_column_styles(kind):
    """The format is the column's own style, so row 1,001 and row 100,000 keep their zeros too; no cell below the
    example row is written to carry it."""
    sheet = load(kind).worksheets[0]

    assert sheet.max_row == 2
    for column in KIND_COLUMNS[kind]:
        letter = column_of(kind, column.key)
        if column.key in CODE_COLUMNS:
            assert (column_format(sheet, letter), sheet[f"{letter}2"].number_format) == ("@", "@"), column.key
        elif column.key.endswith("_date"):
            assert column_format(sheet, letter) == "yyyy-mm-dd"
        else:
            assert column_format(sheet, letter) == "General", column.key
        assert sheet[f"{letter}1"].number_format == "General"


def column_format(sheet, letter: str) -> str:
    """The number format of the column style covering letter (openpyxl groups like columns under the first)."""
    index = column_index_from_string(letter)
    for dimension in sheet.column_dimensions.values():
        if dimension.min <= index <= dimension.max:
            return dimension.number_format
    return "General"


@pytest.mark.django_db
def test_example_row_holds_each_columns_example_with_barcode_as_text():
    products = load("products").worksheets[0]
    batches = load("batches").worksheets[0]

    assert products[f"{column_of('products', 'barcode')}2"].value == "6901234567892"
    assert products[f"{column_of('products', 'default_price')}2"].value == 12.5
    assert batches[f"{column_of('batches', 'production_date')}2"].value == datetime(2026, 3, 1)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_example_row_read_back_is_recognised_as_the_example(kind, tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(template_workbook(kind))

    [example] = parsed_rows(kind, path)

    assert example
    assert is_example_row(kind, example)


@pytest.mark.django_db
def test_a_changed_example_row_is_not_skipped(tmp_path):
    workbook = load("products")
    sheet = workbook.worksheets[0]
    sheet[f"{column_of('products', 'default_price')}2"] = 13
    path = tmp_path / "changed.xlsx"
    workbook.save(path)

    [row] = parsed_rows("products", path)

    assert not is_example_row("products", row)


def test_is_example_row_compares_parsed_values():
    # Text, numbers and dates typed in the usual ways still match the example after parsing.
    assert is_example_row("batches", {"erp_product_id": " SKU-0001 ", "batch_no": "B20260301",
                                      "production_date": "2026/3/1", "expiry_date": date(2028, 2, 28),
                                      "quantity": "200"})
    assert is_example_row("prices", {"erp_product_id": "SKU-0001", "price_type": "区域组价", "price": "11.80"})
    # A row with only some example cells left (the others blanked) is still the example.
    assert is_example_row("products", {"erp_product_id": "SKU-0001", "stock": None, "name": ""})


@pytest.mark.parametrize("values", [
    {},
    {"erp_product_id": "SKU-0002"},
    {"erp_product_id": "SKU-0001", "base_product_id": 5},  # a column without an example
    {"erp_product_id": "SKU-0001", "stock": "lots"},  # unreadable
    {"erp_product_id": "SKU-0001", "unknown": "x"},
])
def test_is_example_row_refuses_rows_that_differ(values):
    assert not is_example_row("products", values)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown import kind"):
        template_workbook("orders")


@pytest.mark.django_db
def test_command_writes_the_template(tmp_path):
    out = tmp_path / "stock.xlsx"
    stdout = io.StringIO()

    call_command("import_template", "stock", "--out", str(out), stdout=stdout)

    workbook = openpyxl.load_workbook(out)
    header = {cell.column: cell.value for cell in workbook.worksheets[0][1]}
    assert sorted(match_header("stock", header)[0].values()) == ["erp_product_id", "stock"]
    assert "Wrote the stock import template" in stdout.getvalue()
    assert [p.name for p in tmp_path.iterdir()] == ["stock.xlsx"]  # no temporary file left behind


@pytest.mark.django_db
def test_command_writes_the_logistics_template_with_its_carriers(tmp_path):
    CarrierFactory(code="SF", name="顺丰速运")
    out = tmp_path / "logistics.xlsx"

    call_command("import_template", "logistics", "--out", str(out), stdout=io.StringIO())

    workbook = openpyxl.load_workbook(out)
    header = {cell.column: cell.value for cell in workbook.worksheets[0][1]}
    assert sorted(match_header("logistics", header)[0].values()) == sorted(
        ["order_no", "carrier", "tracking_no", "line_no", "quantity", "batch_no"])
    assert header[1] == "订单号\nOrder number"
    assert [row for row in workbook[CARRIERS_SHEET].iter_rows(min_row=2, values_only=True)] == [("SF", "顺丰速运")]


@pytest.mark.django_db
def test_command_refuses_an_unknown_kind(tmp_path):
    with pytest.raises(CommandError, match="Unknown kind 'orders': choose one of products, prices"):
        call_command("import_template", "orders", "--out", str(tmp_path / "x.xlsx"))

    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
@pytest.mark.parametrize("name,message", [
    ("missing-dir/x.xlsx", "cannot write to"),
    ("x.csv", "must end in .xlsx"),
    ("folder.xlsx", "is a directory"),
])
def test_command_refuses_an_unwritable_path(tmp_path, name, message):
    (tmp_path / "folder.xlsx").mkdir()

    with pytest.raises(CommandError, match=message):
        call_command("import_template", "products", "--out", str(tmp_path / name))


@pytest.mark.django_db
def test_uploaded_template_imports_the_rows_but_not_the_unchanged_example(merchant_a, settings, tmp_path):
    from django.core.files.base import ContentFile

    from merchant.models import ImportJob, RowAction
    from merchant.spreadsheets.imports import pipeline

    settings.MEDIA_ROOT = tmp_path
    workbook = load("products")
    sheet = workbook.worksheets[0]
    for key, value in (("erp_product_id", "SKU-NEW"), ("name", "Aspirin"), ("default_price", 9.9)):
        sheet[f"{column_of('products', key)}3"] = value
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = ImportJob(merchant=merchant_a, kind="products", file_name="t.xlsx", file_format="xlsx")
    job.file.save("t.xlsx", ContentFile(buffer.getvalue()), save=False)
    job.save()

    pipeline.validate(job)

    assert (job.status, job.rows_total, job.new_count) == ("preview", 1, 1)
    assert list(job.rows.values_list("row_number", "action")) == [(3, RowAction.NEW)]
