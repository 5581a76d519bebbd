"""Order export, one row per item, streamed as xlsx or csv (SPEC M10), shared by the page and the CLI."""
import csv
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from merchant.models import ErpStatus, OrderItem, OrderSource, OrderStatus, RefundStatus

from .safety import neutralise
from .xlsx_stream import stream_xlsx

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


def item_rows(orders, chunk_size=2000):
    """Yield one tuple per order item, in KEYS order, for the given orders queryset (no per-row queries)."""
    items = (
        OrderItem.objects.filter(order__in=orders.values("pk"))
        .order_by("-order__created_at", "-order_id", "line_no")
        .values_list(*[f"order__{f}" for f in _ORDER_FIELDS], *_ITEM_FIELDS)
    )
    return items.iterator(chunk_size=chunk_size)


def _local(value, tz):
    # Whole seconds: a spreadsheet cell cannot hold microseconds exactly.
    return value.astimezone(tz).replace(tzinfo=None, microsecond=0) if value else None


def xlsx_chunks(orders, labels=True):
    """Bytes of the xlsx export: translated headers and value labels, times in the configured zone."""
    tz = ZoneInfo(settings.TIME_ZONE)
    index = {key: i for i, key in enumerate(KEYS)}
    time_cols = [index[k] for k in ("created_at", "modified_at", "paid_at")]
    label_cols = [(index[k], {c.value: str(c.label) for c in choices}) for k, choices in _LABELS.items()]

    def rows():
        for raw in item_rows(orders):
            row = list(raw)
            for i in time_cols:
                row[i] = _local(row[i], tz)
            if labels:
                for i, names in label_cols:
                    row[i] = names.get(row[i], row[i])
            yield [neutralise(v) for v in row]

    return stream_xlsx([str(label) for _key, label in COLUMNS], rows(), sheet_name=str(_("Orders")))


class _Echo:
    def write(self, value):
        return value


def csv_chunks(orders, rows_per_chunk=1000):
    """Text chunks of the csv export: stable keys as header, raw codes, ISO times in the configured zone."""
    tz = ZoneInfo(settings.TIME_ZONE)
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(KEYS)  # the BOM makes Excel read UTF-8 Chinese correctly
    buffer = []
    for raw in item_rows(orders):
        row = [v.astimezone(tz).isoformat(timespec="seconds") if hasattr(v, "astimezone") else v for v in raw]
        buffer.append(writer.writerow([neutralise(v) for v in row]))
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer)
            buffer.clear()
    yield "".join(buffer)
