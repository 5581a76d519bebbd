"""Order export, one row per item, streamed as xlsx or csv (SPEC M10), shared by the page and the CLI."""
import csv
import re
from collections import defaultdict
from itertools import islice
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from merchant.models import ErpStatus, Order, OrderItem, OrderSource, OrderStatus, RefundStatus

from .safety import neutralise
from .xlsx_stream import Cells, money_cell, number_cell, render_cells, stream_xlsx, text_cell

COLUMNS = [
    ("order_no", _("Order number")), ("source", _("Source")), ("status", _("Status")),
    ("platform_status", _("Platform status")), ("created_at", _("Created")), ("modified_at", _("Modified")),
    ("paid_at", _("Paid")), ("payment", _("Payment method")), ("erp_status", _("ERP status")),
    ("taken_by_erp", _("Taken by ERP")), ("line_no", _("Line")), ("erp_product_id", _("ERP product id")),
    ("item_name", _("Item")), ("quantity", _("Quantity")), ("unit_price", _("Unit price")),
    ("amount", _("Amount")), ("refund_status", _("Refund status")), ("batch_no", _("Batch numbers")),
]
KEYS = [key for key, _label in COLUMNS]
_ORDER_FIELDS = ["order_no", "source", "status", "platform_status", "created_at", "modified_at", "paid_at",
                 "payment", "erp_status", "taken_by_erp"]
_ITEM_FIELDS = ["line_no", "erp_product_id", "item_name", "quantity", "unit_price", "amount", "refund_status",
                "batch_no"]
_LABELS = {"source": OrderSource, "status": OrderStatus, "erp_status": ErpStatus, "refund_status": RefundStatus}


def order_batches(orders, chunk_size=2000):
    """Yield (order values, [item values, ...]) per order with items, newest first, in _ORDER_FIELDS and
    _ITEM_FIELDS order: the orders through one server-side cursor, their items one query per chunk_size
    orders (no per-row queries, memory bounded by the chunk).

    Joining every item to its order and sorting the whole result in the database made PostgreSQL sort
    300,000 wide rows before the first one came out, and repeated the order's columns (three datetimes to
    parse) on every item: the export of 100,000 orders missed its 20 s bar (bench/export.py).
    """
    if orders.query.is_sliced:
        orders = Order.objects.filter(pk__in=orders.values("pk"))
    heads = orders.order_by("-created_at", "-id").values_list("pk", *_ORDER_FIELDS).iterator(chunk_size=chunk_size)
    while batch := list(islice(heads, chunk_size)):
        lines = defaultdict(list)
        for order_id, *item in (
            OrderItem.objects.filter(order_id__in=[head[0] for head in batch])
            .order_by("order_id", "line_no").values_list("order_id", *_ITEM_FIELDS)
        ):
            lines[order_id].append(item)
        for head in batch:
            if head[0] in lines:
                yield head[1:], lines[head[0]]


def item_rows(orders, chunk_size=2000):
    """Yield one tuple per order item, in KEYS order, for the given orders queryset (no per-row queries)."""
    for head, lines in order_batches(orders, chunk_size):
        for line in lines:
            yield (*head, *line)


def _local(value, tz):
    # Whole seconds: a spreadsheet cell cannot hold microseconds exactly.
    return value.astimezone(tz).replace(tzinfo=None, microsecond=0) if value else None


def xlsx_chunks(orders, labels=True):
    """Bytes of the xlsx export, for people: translated headers and value labels, times as date cells in the
    configured zone, money as numbers shown with two decimals, codes as text."""
    tz = ZoneInfo(settings.TIME_ZONE)
    index = {key: i for i, key in enumerate(KEYS)}
    time_cols = [index[k] for k in ("created_at", "modified_at", "paid_at")]
    label_cols = [(index[k], {c.value: str(c.label) for c in choices}) for k, choices in _LABELS.items()]

    n_head = len(_ORDER_FIELDS)
    head_labels = [(i, names) for i, names in label_cols if i < n_head] if labels else []
    refund_names = dict(label_cols)[index["refund_status"]] if labels else {}

    def rows():
        # The order's cells are converted once per order, not once per item.
        for raw_head, lines in order_batches(orders):
            head = list(raw_head)
            for i in time_cols:
                head[i] = _local(head[i], tz)
            for i, names in head_labels:
                head[i] = names.get(head[i], head[i])
            head_cells = render_cells([neutralise(v) for v in head])
            for line_no, erp_id, name, quantity, unit_price, amount, refund, batch_no in lines:
                # Written cell by cell with the column's known type: this runs for every item.
                yield [Cells(
                    head_cells + number_cell(line_no) + text_cell(neutralise(erp_id)) + text_cell(neutralise(name))
                    + number_cell(quantity) + money_cell(unit_price) + money_cell(amount)
                    + text_cell(refund_names.get(refund, refund)) + text_cell(neutralise(batch_no))
                )]

    return stream_xlsx([str(label) for _key, label in COLUMNS], rows(), sheet_name=str(_("Orders")))


class _Echo:
    def write(self, value):
        return value


# Codes a spreadsheet program would take for numbers when it opens a csv file: digits only, and long enough to
# lose digits (Excel keeps 15) or starting with a zero it would drop.
_NUMBER_LIKE_CODE = re.compile(r"0[0-9]*|[0-9]{12,}")
CODE_KEYS = ("order_no", "erp_product_id", "batch_no")


def csv_chunks(orders, rows_per_chunk=1000, *, for_spreadsheets=False):
    """Text chunks of the csv export.

    By default the machine format: stable keys as header, raw codes, ISO 8601 times with their offset in the
    configured zone, amounts as plain decimals. for_spreadsheets writes the same columns for a person who opens
    the file in Excel, WPS or LibreOffice: times as "2026-03-01 10:30:15" (local, which they read as dates),
    and codes they would turn into numbers (a 19-digit order number into 2.15E+18, 000123 into 123) as ="..."
    formulas, which they show as the text. That formula holds only the code's digits, checked just before;
    every other text still goes through neutralise, so nothing from an order can become a formula.
    """
    tz = ZoneInfo(settings.TIME_ZONE)
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(KEYS)  # the BOM makes Excel read UTF-8 Chinese correctly
    codes = [KEYS.index(key) for key in CODE_KEYS] if for_spreadsheets else []
    buffer = []
    for raw in item_rows(orders):
        if for_spreadsheets:
            row = [v.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if hasattr(v, "astimezone") else v for v in raw]
        else:
            row = [v.astimezone(tz).isoformat(timespec="seconds") if hasattr(v, "astimezone") else v for v in raw]
        row = [neutralise(v) for v in row]
        for index in codes:
            value = row[index]
            if isinstance(value, str) and _NUMBER_LIKE_CODE.fullmatch(value):
                row[index] = f'="{value}"'
        buffer.append(writer.writerow(row))
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer)
            buffer.clear()
    yield "".join(buffer)
