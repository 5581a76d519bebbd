"""One product list and one batch list as merchants' spreadsheet programs write them, for the tests of reading
every format (test_import_formats.py) and for the script that made the committed .ods and .xls fixtures
(fixtures/make_sheets.py). Plain data: no Django here, so the script runs without settings.

Each data cell is (value as typed, number format or None); EXPECTED holds what the database must hold after
the import, which is what the spreadsheet shows.
"""
from datetime import date
from decimal import Decimal

NOTES = [["这是说明页：商品在“商品”工作表。"], ["Notes: the products are on the 商品 sheet."]]
CARRIERS = [["编码", "物流公司"], ["SF", "顺丰速运"], ["YTO", "圆通速递"]]

PRODUCT_HEADER = ["ERP商品编码", "商品名称", "条形码", "批准文号", "规格", "生产厂家", "单位", "默认价", "建议零售价",
                  "库存"]
PRODUCT_ROWS = [
    # An id and a barcode typed as numbers under zero-padding formats, as Excel and LibreOffice users do.
    [(123, "000000"), ("阿莫西林胶囊", None), (12345678905, "0000000000000"), ("国药准字H20003263", None),
     ("0.25g*24粒", None), ("华北制药股份有限公司", None), ("盒", None), (12.5, "0.00"), (19.9, None), (100, None)],
    # Typed as text.
    [("SKU-0002", None), ("布洛芬缓释胶囊", None), ("0690123456789", None), ("国药准字H10900089", None),
     ("0.3g*20粒", None), ("中美天津史克制药有限公司", None), ("盒", None), (9.9, None), (None, None), (0, None)],
    # A 13-digit barcode as a plain number: it keeps every digit (Excel keeps 15).
    [("SKU-0003", None), ("维生素C片", None), (6901234567892, None), ("国药准字H11021232", None),
     ("0.1g*100片", None), ("东北制药集团股份有限公司", None), ("瓶", None), (3, None), (5.5, None), (20, None)],
]
EXPECTED_PRODUCTS = {
    "000123": {"name": "阿莫西林胶囊", "barcode": "0012345678905", "approval_number": "国药准字H20003263",
               "spec": "0.25g*24粒", "manufacturer": "华北制药股份有限公司", "unit": "盒",
               "default_price": Decimal("12.50"), "suggested_retail_price": Decimal("19.90"), "stock": 100},
    "SKU-0002": {"name": "布洛芬缓释胶囊", "barcode": "0690123456789", "approval_number": "国药准字H10900089",
                 "spec": "0.3g*20粒", "manufacturer": "中美天津史克制药有限公司", "unit": "盒",
                 "default_price": Decimal("9.90"), "suggested_retail_price": None, "stock": 0},
    "SKU-0003": {"name": "维生素C片", "barcode": "6901234567892", "approval_number": "国药准字H11021232",
                 "spec": "0.1g*100片", "manufacturer": "东北制药集团股份有限公司", "unit": "瓶",
                 "default_price": Decimal("3.00"), "suggested_retail_price": Decimal("5.50"), "stock": 20},
}
SKIPPED_MESSAGE = "Read sheet 商品; skipped 说明, 物流公司."

BATCH_HEADER = ["ERP商品编码", "批号", "生产日期", "有效期至", "数量"]
BATCH_ROWS = [
    # A batch number typed as a number under a zero-padding format; dates as date cells.
    [("SKU-0002", None), (2603, "000000"), (date(2026, 3, 1), "yyyy-mm-dd"), (date(2028, 2, 29), "yyyy-mm-dd"),
     (200, None)],
    [("SKU-0002", None), ("B20260401", None), ("2026-04-01", None), (date(2028, 3, 31), "yyyy/m/d"), (50, None)],
]
EXPECTED_BATCHES = {"002603": (date(2026, 3, 1), date(2028, 2, 29), 200),
                    "B20260401": (date(2026, 4, 1), date(2028, 3, 31), 50)}


def workbook_sheets(kind: str):
    """(sheet name, rows of (value, format)) in workbook order: the data sheet between a notes sheet and a
    carriers list, so the data sheet must be found by its header."""
    header, rows = (PRODUCT_HEADER, PRODUCT_ROWS) if kind == "products" else (BATCH_HEADER, BATCH_ROWS)
    plain = lambda table: [[(value, None) for value in row] for row in table]  # noqa: E731
    return [("说明", plain(NOTES)), ("商品", [[(name, None) for name in header], *rows]), ("物流公司", plain(CARRIERS))]


# A stock workbook with a hidden sheet ahead of the data and a merged range in the data (rows 3 and 4), as
# LibreOffice saves it as .ods and .xls: the hidden sheet is named and skipped, the merged rows are invalid.
STOCK_HIDDEN = ("旧库存", [[("erp_product_id", None), ("stock", None)], [("P-1", None), (99, None)]])
STOCK_DATA = ("库存", [[("erp_product_id", None), ("stock", None)], [("P-1", None), (5, None)],
                       [("P-2", None), (6, None)], [("P-3", None), (None, None)]])
STOCK_MERGED = "B3:B4"
