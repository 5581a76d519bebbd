"""Purchase suggestions as xlsx or csv, shared by the page and `manage.py replenishment`.

Every text cell goes through neutralise (product names and ids come from imports and ERPs), and the xlsx is
written by the streamed writer like the orders export.
"""
import csv

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .safety import neutralise
from .xlsx_stream import stream_xlsx

COLUMNS = [
    ("erp_product_id", _("ERP product id")),
    ("name", _("Name")),
    ("spec", _("Spec")),
    ("available", _("Available stock")),
    ("on_order", _("On order")),
    ("forecast_daily", _("Forecast sales per day")),
    ("suggested_qty", _("Suggested purchase quantity")),
    ("reason", pgettext_lazy("purchase suggestion", "Reason")),
]
KEYS = [key for key, _label in COLUMNS]
WIDTHS = [16, 30, 14, 10, 10, 12, 12, 90]


def row_values(suggestion) -> list:
    p = suggestion.product
    return [neutralise(p.erp_product_id), neutralise(p.name), neutralise(p.spec), suggestion.available,
            suggestion.on_order, suggestion.forecast_daily, suggestion.suggested_qty, neutralise(suggestion.reason)]


def xlsx_chunks(suggestions, *, keys_as_header: bool = False):
    """Bytes of the workbook: the merchant's column names (or the stable keys, for programs), one row per
    product, numbers as numbers."""
    header = KEYS if keys_as_header else [str(label) for _key, label in COLUMNS]
    rows = (row_values(s) for s in suggestions)
    return stream_xlsx(header, rows, sheet_name=str(_("Purchase suggestions")), freeze_header=True, widths=WIDTHS)


class _Echo:
    def write(self, value):
        return value


def csv_chunks(suggestions, rows_per_chunk: int = 1000):
    """Text chunks of the csv: the stable keys as header (after a BOM, so Excel reads the Chinese), then one
    row per product."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(KEYS)
    buffer = []
    for s in suggestions:
        buffer.append(writer.writerow(row_values(s)))
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer)
            buffer.clear()
    yield "".join(buffer)
