"""The downloadable template of an import kind (SPEC M4): bilingual headers, an example row, dropdowns for
fixed values and a notes sheet. The template is small, so openpyxl builds it in ordinary (not write-only) mode.

Its texts are in Chinese and English at once, like the column labels, so one file serves every merchant.
"""
import io
import unicodedata
from functools import lru_cache

from django.utils import translation
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from merchant.models import Carrier, CustomerGroup, RegionGroup

from . import cells
from .columns import KIND_COLUMNS, PRICE_TYPES, Column, header_label

DATA_SHEET = "导入 Import"
NOTES_SHEET = "说明 Notes"
LISTS_SHEET = "列表 Lists"  # hidden: long dropdown lists (an inline list is limited to 255 characters)
CARRIERS_SHEET = "物流公司 Carriers"  # the carrier code list, visible: the merchant looks codes up in it
LAST_ROW = 1048576  # dropdowns reach the sheet's last row, like the columns' text and date formats
# Code columns hold digits that are not numbers: as numbers, Excel shows 6.9E+12 and drops leading zeros.
CODE_COLUMNS = {"erp_product_id", "barcode", "approval_number", "batch_no", "uscc", "erp_customer_code", "group_code",
                "order_no", "tracking_no"}
REQUIRED = {
    "always": ("必填", "Required", "F4B084"),
    "create": ("新建时必填", "Required for new records", "FFE699"),
    "": ("选填", "Optional", "DDEBF7"),
}
_BOLD = Font(bold=True)
_EXAMPLE_FONT = Font(italic=True, color="808080")
_WRAP = Alignment(wrap_text=True, vertical="top")

GENERAL_NOTES = (
    ("表头可以用键名（如 erp_product_id）、中文名称或英文名称，列的顺序不限。",
     "The header row may use the keys (such as erp_product_id) or the Chinese or English labels, in any order."),
    ("无法识别的列会被忽略，并给出提示。", "Columns that are not recognised are ignored, with a warning."),
    ("第2行是示例：保持原样时导入会忽略它；可以直接改写或删除。",
     "Row 2 is an example: it is ignored while it is left unchanged; overwrite or delete it."),
    ("重新导入时，空白单元格表示该字段保持不变。", "On re-import, a blank cell leaves the field unchanged."),
    ("表头颜色：橙色为必填，黄色为新建时必填，蓝色为选填。",
     "Header colours: orange is required, yellow is required for new records, blue is optional."),
    ("编码类列（如条形码）已设为文本格式，请保持文本，以免长数字变成 6.9E+12 或丢失开头的 0。",
     "Code columns (such as the barcode) are formatted as text: keep them so, or long numbers turn into 6.9E+12 "
     "and lose leading zeros."),
    ("读取第一个带有表头的工作表；本说明页不会被导入。",
     "The first sheet with a header row is read; this notes sheet is not imported."),
    ("检查后下载的标注错误的工作簿可以直接改正后重新上传，其中的“错误”列会被忽略。",
     "The annotated workbook you can download after the check can be corrected and uploaded again; its Errors "
     "column is ignored."),
)
_ERP_KEY = ("ERP商品编码是商品的唯一标识：已存在的商品被更新，不存在的新建。",
            "The ERP product id identifies the product: an existing product is updated, a new one is created.")
_EXISTING_ONLY = ("ERP商品编码必须是已有的商品。", "The ERP product id must be one of your existing products.")
_BATCH_STOCK = ("批次管理的商品库存等于在售批次数量之和，导入库存会被拒绝（请导入批次）。",
                "A batch-managed product's stock is the sum of its on-sale batches: importing its stock is refused "
                "(import batches instead).")
KIND_NOTES = {
    "products": (
        _ERP_KEY,
        ("新建商品必须填写商品名称和默认价；库存不填则为0。",
         "A new product needs a name and a default price; blank stock means 0."),
        ("基础商品匹配：填写基础商品ID则直接关联；否则按条形码+批准文号+规格+生产厂家精确匹配；匹配不到则待审核，由平台审核。",
         "Base product matching: a base product id, if given, links that base product; otherwise an exact match "
         "on barcode + approval number + spec + manufacturer links one; no match means pending review by the "
         "platform."),
        ("上架规则：匹配到基础商品且库存大于0的商品上架；库存为0则为待上架（不上架）；已下架的商品保持下架。",
         "Listing rule: a matched product with stock above 0 is listed; with stock 0 it is ready (not listed); "
         "a product you delisted stays delisted."),
        _BATCH_STOCK,
    ),
    "prices": (
        _EXISTING_ONLY,
        ("区域组价和客户组价须填写分组编码，下拉列表中列出平台已有的分组编码。",
         "Region and customer group prices need the group code; the dropdown lists the platform's group codes."),
        ("客户实际支付的价格：客户组价，其次区域组价，其次默认价。",
         "The price a customer pays: the customer group price, else the region group price, else the default "
         "price."),
    ),
    "batches": (
        _EXISTING_ONLY,
        ("文件中某商品的批次整体替换该商品的在售批次：文件未列出的在售批次将被移除。",
         "A product's batches in the file fully replace its on-sale batches: an on-sale batch the file does "
         "not name is removed."),
        ("导入批次后商品变为批次管理，库存为在售批次数量之和；过期或数量为0的批次不在售。",
         "After a batch import the product is batch-managed and its stock is the sum of its on-sale batches; "
         "expired or zero-quantity batches are not on sale."),
    ),
    "stock": (_EXISTING_ONLY, _BATCH_STOCK,
              ("库存为0的已上架商品变为待上架。", "A listed product whose stock becomes 0 is no longer listed (ready).")),
    "customer_codes": (
        ("按统一社会信用代码或平台客户ID找到客户，至少填写其中一个。",
         "The customer is found by USCC or by platform customer id: give at least one."),
        ("每个ERP客户编码只能对应一个客户；客户名称仅供核对，不会导入。",
         "Each ERP customer code belongs to one customer; the customer name is for your reference only."),
    ),
    "logistics": (
        ("每行是一个包裹（运单号）中的一个订单：不填行号则发出该订单所有未发货的商品，订单变为已发货。",
         "Each row is an order in a parcel (tracking number): without a line it ships everything of the order not "
         "yet shipped, and the order becomes shipped."),
        ("部分发货：填写行号和数量（可加批号）。同一订单、同一运单号的多行合为一个包裹；不同运单号是不同的包裹。",
         "Partial shipment: give the line and quantity (and the batch). Rows of one order with one tracking number "
         "are one parcel; other tracking numbers are other parcels."),
        ("只有待发货或部分发货的订单可以发货；平台订单发货后会把物流信息推送到平台。",
         "Only orders awaiting shipment or partly shipped can be shipped; a marketplace order's logistics are sent "
         "to the marketplace."),
        ("已用同一物流公司和运单号发过货的行视为未变（重复导入不会重复发货）。",
         "A row whose carrier and tracking number are already recorded for the order is unchanged (importing a file "
         "again ships nothing twice)."),
        ("订单号、运单号请按文本填写：长数字作为数字会丢失末尾的位数。",
         "Type order and tracking numbers as text: a long number stored as a number loses its last digits."),
    ),
}


def _is_date(column: Column) -> bool:
    return column.parse is cells.to_date


def _example(column: Column):
    # Dates go in as date cells, as a merchant would type them, rather than as the text in columns.py.
    return column.parse(column.example) if _is_date(column) and column.example is not None else column.example


def display_width(text: str) -> int:
    """Columns text takes on screen: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _group_names() -> list[str]:
    """The groups as merchants know them, by name (the importer reads a name back to its group, or a code)."""
    names = list(RegionGroup.objects.values_list("name", flat=True))
    names += [name for name in CustomerGroup.objects.values_list("name", flat=True) if name not in names]
    return names


def _choice_words(column: Column) -> list[str]:
    """A fixed-value column's dropdown in the words of the merchant's language, never its internal values."""
    english = not (translation.get_language() or "zh").startswith("zh")
    return [PRICE_TYPES[value][1 if english else 0] for value in column.choices]


def _data_sheet(workbook: Workbook, kind: str) -> None:
    sheet = workbook.active
    sheet.title = DATA_SHEET
    for index, column in enumerate(KIND_COLUMNS[kind], start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index, value=header_label(column))
        header.font, header.alignment = _BOLD, _WRAP
        header.fill = PatternFill("solid", fgColor=REQUIRED[column.required][2])
        if column.note_zh or column.note_en:
            header.comment = Comment(f"{column.note_zh}\n{column.note_en}".strip(), "Merchant Hub", 120, 320)
        example = sheet.cell(row=2, column=index, value=_example(column))
        example.font = _EXAMPLE_FONT
        widest = max(display_width(column.zh), display_width(column.en), display_width(str(column.example or "")))
        dimension = sheet.column_dimensions[letter]
        dimension.width = min(max(widest + 4, 12), 40)
        number_format = "@" if column.key in CODE_COLUMNS else "yyyy-mm-dd" if _is_date(column) else None
        if number_format:
            # A column style, which Excel, WPS and LibreOffice give every cell typed into the column, down to its
            # last row; the cells already written (the header keeps General) take it one by one.
            dimension.number_format = number_format
            example.number_format = number_format
    sheet.row_dimensions[1].height = 32
    sheet.freeze_panes = "A2"


def _dropdown(sheet, column_index: int, formula: str, title: str) -> None:
    letter = get_column_letter(column_index)
    # A warning rather than a stop: merchants may type a label the importer also accepts (默认价 for default).
    validation = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
                                errorStyle="warning", errorTitle=title,
                                error="不在下拉列表中 / Not one of the listed values")
    validation.add(f"{letter}2:{letter}{LAST_ROW}")
    sheet.add_data_validation(validation)


def _carriers_sheet(workbook: Workbook) -> int:
    """The active carriers, code and name, on a sheet of their own; returns how many."""
    carriers = list(Carrier.objects.filter(is_active=True).order_by("code").values_list("code", "name"))
    if not carriers:  # an empty list range would be an invalid reference
        return 0
    sheet = workbook.create_sheet(CARRIERS_SHEET)
    sheet.append(["编码 Code", "名称 Name"])
    for code, name in carriers:
        sheet.append([code, name])
    for cell in sheet[1]:
        cell.font = _BOLD
    sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 16, 30
    sheet.freeze_panes = "A2"
    return len(carriers)


def _dropdowns(workbook: Workbook, kind: str) -> None:
    sheet = workbook[DATA_SHEET]
    for index, column in enumerate(KIND_COLUMNS[kind], start=1):
        if kind == "logistics" and column.key == "carrier":
            count = _carriers_sheet(workbook)
            if count:
                # The codes: unique, where two carriers could share a name; the importer takes either.
                _dropdown(sheet, index, f"{quote_sheetname(CARRIERS_SHEET)}!$A$2:$A${count + 1}", column.en)
        elif column.choices:
            _dropdown(sheet, index, '"' + ",".join(_choice_words(column)) + '"', column.en)
        elif kind == "prices" and column.key == "group_code":
            names = _group_names()
            if not names:  # an empty list range would be an invalid reference
                continue
            lists = workbook.create_sheet(LISTS_SHEET)
            lists.sheet_state = "hidden"
            lists.append(["分组 Group"])
            for name in names:
                lists.append([name])
            _dropdown(sheet, index, f"{quote_sheetname(LISTS_SHEET)}!$A$2:$A${len(names) + 1}", column.en)


def _notes_sheet(workbook: Workbook, kind: str) -> None:
    sheet = workbook.create_sheet(NOTES_SHEET)
    sheet.append(["键 Key", "中文名称 Chinese label", "英文名称 English label", "必填 Required", "说明（中文）",
                  "Note (English)"])
    for column in KIND_COLUMNS[kind]:
        zh, en, _colour = REQUIRED[column.required]
        sheet.append([column.key, column.zh, column.en, f"{zh} {en}", column.note_zh, column.note_en])
    sheet.append([])
    sheet.append(["通用说明", "General notes"])
    general_row = sheet.max_row
    for zh, en in (*GENERAL_NOTES, *KIND_NOTES[kind]):
        sheet.append([zh, en])
    for cell in (*sheet[1], *sheet[general_row]):
        cell.font = _BOLD
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = _WRAP
    for letter, width in zip("ABCDEF", (50, 50, 24, 24, 50, 60)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"


def template_workbook(kind: str) -> bytes:
    """The xlsx template of an import kind (a key of KIND_COLUMNS); raises ValueError for another kind."""
    if kind not in KIND_COLUMNS:
        raise ValueError(f"unknown import kind {kind!r}")
    workbook = Workbook()
    _data_sheet(workbook, kind)
    _notes_sheet(workbook, kind)
    _dropdowns(workbook, kind)
    workbook.active = 0  # the importer reads the first visible sheet, and Excel opens on it
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@lru_cache(maxsize=None)
def _example_values(kind: str) -> dict:
    return {column.key: column.parse(column.example) for column in KIND_COLUMNS[kind] if column.example is not None}


def is_example_row(kind: str, values_by_key: dict) -> bool:
    """Whether a row is the template's example row left as it was: it has some value and every non-blank value
    equals the example of its column. Values may be as read or as parsed by the columns (parsing is idempotent),
    so dates typed as text, date cells and numbers typed as text all compare alike."""
    examples = _example_values(kind)
    columns = {column.key: column for column in KIND_COLUMNS[kind]}
    seen = False
    for key, value in values_by_key.items():
        if value is None or value == "":
            continue
        if key not in examples:
            return False
        try:
            parsed = columns[key].parse(value)
        except cells.CellError:
            return False
        if parsed == "":
            continue
        if parsed != examples[key]:
            return False
        seen = True
    return seen
