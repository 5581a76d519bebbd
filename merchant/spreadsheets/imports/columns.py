"""The columns of each import kind. Keys are the field names the Open API uses; each column is also
recognised by its Chinese or English label, so a header row may use any of the three, in any order."""
import re
import unicodedata
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

from . import cells

PRICE_TYPES = {
    # value -> the words a merchant uses for it, Chinese then English (the template's dropdown offers the words of
    # the merchant's language; either language, or the value itself, is read back)
    "default": ("默认价", "default price"),
    "suggested_retail": ("建议零售价", "suggested retail price", "retail"),
    "region_group": ("区域组价", "region group price", "region"),
    "customer_group": ("客户组价", "customer group price", "customer"),
}


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    parse: Callable
    required: str = ""  # "always", "create" (needed for a new record), or "" (optional)
    note_zh: str = ""
    note_en: str = ""
    example: object = None
    choices: tuple = field(default=())  # fixed values: a dropdown in the template
    aliases: tuple = field(default=())  # other headers that mean this column (as other programs' exports name it)


def _choice(value, choices: dict) -> str:
    text = cells.normalise_text(value).lower()
    for key, labels in choices.items():
        if text == key or text in (label.lower() for label in labels):
            return key
    raise cells.CellError(_("not one of: %(values)s") % {"values": ", ".join(choices)})


_text = partial(cells.to_text, max_length=64)
ERP_ID = Column(
    "erp_product_id", "ERP商品编码", "ERP product id", _text, "always",
    "商品在ERP中的编码，是导入的唯一标识：已存在则更新，不存在则新建。",
    "The product's id in your ERP; it identifies the product: an existing id is updated, a new one created.",
    "SKU-0001",
)

PRODUCTS = (
    ERP_ID,
    Column("name", "商品名称", "Name", partial(cells.to_text, max_length=200, fold=False), "create",
           "新建商品时必填。", "Required for a new product.", "阿莫西林胶囊"),
    Column("barcode", "条形码", "Barcode", _text, "", "与批准文号、规格、生产厂家一起用于匹配基础商品。",
           "Used with approval number, spec and manufacturer to match a base product.", "6901234567892"),
    Column("approval_number", "批准文号", "Approval number", _text, "", "", "", "国药准字H20003263"),
    Column("spec", "规格", "Spec", partial(cells.to_text, max_length=100), "", "", "", "0.25g*24粒"),
    Column("manufacturer", "生产厂家", "Manufacturer", partial(cells.to_text, max_length=200, fold=False), "",
           "", "", "华北制药股份有限公司"),
    Column("unit", "单位", "Unit", partial(cells.to_text, max_length=20, fold=False), "", "", "", "盒"),
    Column("base_product_id", "基础商品ID", "Base product id", cells.to_int, "",
           "填写则直接关联该基础商品；不填则按条形码+批准文号+规格+生产厂家精确匹配，匹配不到则待审核。",
           "If given, links that base product; otherwise an exact barcode + approval number + spec + "
           "manufacturer match links one; no match means pending review.", None),
    Column("default_price", "默认价", "Default price", cells.to_decimal, "create",
           "新建商品时必填，大于0，最多两位小数。", "Required for a new product; above 0, at most 2 decimals.", 12.5),
    Column("suggested_retail_price", "建议零售价", "Suggested retail price", cells.to_decimal, "",
           "大于0，最多两位小数。", "Above 0, at most 2 decimals.", 19.9),
    Column("stock", "库存", "Stock", cells.to_int, "",
           "新建商品不填则为0。批次管理的商品库存由批次决定，不能在此填写。",
           "Blank means 0 for a new product. A batch-managed product's stock comes from its batches.", 100),
)

PRICES = (
    ERP_ID,
    Column("price_type", "价格类型", "Price type", partial(_choice, choices=PRICE_TYPES), "always",
           "默认价、建议零售价、区域组价或客户组价（英文名称也可以）。",
           "Default price, suggested retail price, region group price or customer group price (the Chinese words "
           "too).", "区域组价", choices=tuple(PRICE_TYPES)),
    Column("group_code", "分组编码", "Group code", _text, "",
           "区域组价、客户组价时必填：从下拉列表选择分组名称（也可填分组编码）。", "For group prices: the group's "
           "name, from the dropdown (its code is read too).", "华南"),
    Column("price", "价格", "Price", cells.to_decimal, "always", "大于0，最多两位小数。",
           "Above 0, at most 2 decimals.", 11.8),
)

BATCHES = (
    ERP_ID,
    Column("batch_no", "批号", "Batch number", _text, "always", "", "", "B20260301"),
    Column("production_date", "生产日期", "Production date", cells.to_date, "always",
           "日期单元格，或 2026-03-01 这样的文本。", "A date cell, or text such as 2026-03-01.", "2026-03-01"),
    Column("expiry_date", "有效期至", "Expiry date", cells.to_date, "always", "必须晚于生产日期。",
           "Must be after the production date.", "2028-02-28"),
    Column("quantity", "数量", "Quantity", cells.to_int, "always", "不小于0的整数。", "A whole number, 0 or more.", 200),
)

STOCK = (
    ERP_ID,
    Column("stock", "库存", "Stock", cells.to_int, "always", "不小于0的整数；批次管理的商品不能导入库存。",
           "A whole number, 0 or more; not for batch-managed products.", 120),
)

CUSTOMER_CODES = (
    Column("uscc", "统一社会信用代码", "USCC", partial(cells.to_text, max_length=18), "",
           "用统一社会信用代码或平台客户ID找到客户（二选一）。",
           "The customer is found by USCC or by platform customer id (either).", "91350100M000100Y43"),
    Column("platform_customer_id", "平台客户ID", "Platform customer id", cells.to_int, "", "", "", None),
    Column("erp_customer_code", "ERP客户编码", "ERP customer code", _text, "always",
           "该客户在您ERP中的编码，每个编码只能对应一个客户。", "The customer's code in your ERP; one code per customer.",
           "C-0001"),
    Column("customer_name", "客户名称", "Customer name", partial(cells.to_text, max_length=200, fold=False), "",
           "仅供核对，不会导入。", "For your reference; not imported.", "示例医药有限公司"),
)

_code = partial(cells.to_code, max_length=64)
LOGISTICS = (
    Column("order_no", "订单号", "Order number", _code, "always",
           "平台订单号（自有商城或平台店铺订单），按文本填写，保留开头的0。",
           "The order number (own storefront or marketplace), as text, leading zeros kept.", "SO20260301001",
           aliases=("订单编号", "订单号码", "order no", "order id")),
    Column("carrier", "物流公司", "Carrier", partial(cells.to_text, max_length=100), "always",
           "物流公司编码或名称，见“物流公司 Carriers”工作表。", "The carrier's code or name, as on the Carriers sheet.",
           "SF", aliases=("快递公司", "物流公司编码", "承运商", "carrier code", "courier")),
    Column("tracking_no", "运单号", "Tracking number", _code, "always", "", "", "SF1234567890123",
           aliases=("快递单号", "物流单号", "运单编号", "waybill number", "tracking no")),
    Column("line_no", "行号", "Line", cells.to_int, "",
           "部分发货时填写订单的商品行号；不填则发出该订单所有未发货的商品。",
           "For a partial shipment, the order's line number; blank ships everything of the order not yet shipped.",
           None),
    Column("quantity", "数量", "Quantity", cells.to_int, "",
           "该行本次发货的数量，须填写行号；不填则发出该行剩余的数量。",
           "How many of the line this parcel holds; needs the line. Blank ships what is left of the line.", None),
    Column("batch_no", "批号", "Batch number", _text, "", "发出商品的批号，须填写行号，买家可见。",
           "The batch shipped, shown to the buyer; needs the line.", None),
)

KIND_COLUMNS = {
    "products": PRODUCTS, "prices": PRICES, "batches": BATCHES, "stock": STOCK, "customer_codes": CUSTOMER_CODES,
    "logistics": LOGISTICS,
}
# The annotated workbook adds this column; a corrected copy uploaded again has it, silently ignored.
ERRORS_HEADER = ("errors", "错误", "错误 errors")


class DuplicateColumns(ValueError):
    """Two header cells name the same column; str() says which, for the merchant."""


def _header_text(value) -> str:
    text = unicodedata.normalize("NFKC", str(value)).strip().lower().replace("*", "")
    return re.sub(r"\s+", " ", text)


def _aliases(column: Column) -> set[str]:
    zh, en = _header_text(column.zh), _header_text(column.en)
    return {column.key, zh, en, f"{zh} {en}", f"{zh}/{en}", f"{zh} / {en}", *map(_header_text, column.aliases)}


def match_header(kind: str, header: dict[int, object]) -> tuple[dict[int, str], list[str]]:
    """Map column indexes to keys. Returns (mapping, unrecognised header texts).

    A cell matches a key, a label, both labels together, or any one line of a two-line header. Raises
    DuplicateColumns when two cells match one column.
    """
    aliases, labels = {}, {}
    for column in KIND_COLUMNS[kind]:
        labels[column.key] = f"{column.zh}/{column.en}"
        for alias in _aliases(column):
            aliases[alias] = column.key
    mapping, unknown, index_of = {}, [], {}
    for index, value in header.items():
        text = _header_text(value)
        if not text:
            continue
        lines = [_header_text(line) for line in str(value).splitlines()]
        key = aliases.get(text) or next((aliases[line] for line in lines if line in aliases), None)
        if key is not None and key in index_of:
            # Which one the merchant meant cannot be told; reading either would silently drop the other.
            raise DuplicateColumns(_("columns %(first)s and %(second)s are both %(column)s. Delete or rename one "
                                     "of them and upload the file again.")
                                   % {"first": get_column_letter(index_of[key]), "second": get_column_letter(index),
                                      "column": labels[key]})
        if key is not None:
            mapping[index], index_of[key] = key, index
        elif not ({text, *lines} & set(ERRORS_HEADER)):
            unknown.append(str(value).strip())
    return mapping, unknown


def header_label(column: Column) -> str:
    """The template's two-line header: Chinese over English."""
    return f"{column.zh}\n{column.en}"
