"""Export one merchant's orders to xlsx or csv, one row per item (SPEC M10), with the same code as the page."""
import os
import tempfile
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, no_translations
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from merchant.models import Merchant, Order, OrderItem, OrderStatus
from merchant.selectors.orders import TABS, search_filter, tab_filter
from merchant.spreadsheets import orders_export
from merchant.validators import validate_storable_text

FORMATS = {".xlsx": "xlsx", ".csv": "csv"}


def parse_moment(option: str, value: str) -> datetime:
    """An aware datetime from an ISO date or date-time; naive values are in settings.TIME_ZONE.

    A bare date means its midnight. Raises CommandError naming the option when the value is not valid.
    """
    text = value.strip()
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = datetime.combine(day, time.min) if day else None
    except ValueError:  # well formed but impossible, e.g. 2024-02-30
        moment = None
    if moment is None:
        raise CommandError(
            f"{option}: {value!r} is not an ISO date or date-time (e.g. 2024-06-01 or 2024-06-01T08:00:00+08:00)."
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, ZoneInfo(settings.TIME_ZONE))
    return moment


class Command(BaseCommand):
    help = "Export a merchant's orders, one row per item, to FILE.xlsx or FILE.csv (format from the extension)."

    def add_arguments(self, parser):
        parser.add_argument("merchant", metavar="MERCHANT_CODE", help="The merchant's code, e.g. demo.")
        parser.add_argument("--out", required=True, metavar="FILE", help="Output file ending in .xlsx or .csv.")
        parser.add_argument("--status", help=f"Only orders in this status: {', '.join(OrderStatus.values)}.")
        parser.add_argument("--since", help="Only orders created at or after this ISO date/date-time.")
        parser.add_argument("--until", help="Only orders created before this ISO date/date-time.")
        parser.add_argument("--q", help="Only orders the orders list's search box finds for this text: order "
                                        "number, receiver, phone or its last 4 digits, tracking number, buyer, "
                                        "item, ERP customer code.")
        parser.add_argument("--tab", choices=[t.key for t in TABS], help="Only the orders of this list tab.")
        parser.add_argument("--for-spreadsheets", action="store_true",
                            help="With a .csv: write it for opening in Excel, WPS or LibreOffice (local times they "
                                 "read as dates, long order numbers and codes kept as text) rather than the "
                                 "machine format.")

    @no_translations  # one language on the terminal: service messages in English like the command's own
    def handle(self, *args, merchant, out, status=None, since=None, until=None, q=None, tab=None,
               for_spreadsheets=False, **options):
        path = Path(out)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise CommandError(f"--out: {out!r} must end in .xlsx or .csv (the format comes from the extension).")
        if for_spreadsheets and fmt != "csv":
            raise CommandError("--for-spreadsheets applies to a .csv file; an .xlsx is always for spreadsheets.")
        if not path.parent.is_dir():
            raise CommandError(f"--out: the directory {str(path.parent)!r} does not exist.")
        try:
            merchant_obj = Merchant.objects.get(code=merchant)
        except Merchant.DoesNotExist:
            raise CommandError(f"No merchant with code {merchant!r}.") from None

        orders = Order.objects.filter(merchant=merchant_obj)
        if status is not None:
            if status not in OrderStatus.values:
                raise CommandError(
                    f"--status: {status!r} is not a status; choose one of {', '.join(OrderStatus.values)}."
                )
            orders = orders.filter(status=status)
        start = parse_moment("--since", since) if since is not None else None
        end = parse_moment("--until", until) if until is not None else None
        if start and end and start >= end:
            raise CommandError("--since must be before --until.")
        if start:
            orders = orders.filter(created_at__gte=start)
        if end:
            orders = orders.filter(created_at__lt=end)
        if q is not None:
            try:
                validate_storable_text(q)
            except ValidationError:
                raise CommandError("--q: the text holds a character that cannot be searched for.") from None
            orders = orders.filter(search_filter(merchant_obj, q))
        if tab is not None:
            orders = orders.filter(tab_filter(merchant_obj, tab))

        order_count = orders.count()
        row_count = OrderItem.objects.filter(order__in=orders.values("pk")).count()
        # Write next to the target and rename at the end, so a failed export never leaves half a file behind.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            if fmt == "xlsx":
                with os.fdopen(fd, "wb") as fh:
                    for chunk in orders_export.xlsx_chunks(orders):
                        fh.write(chunk)
            else:
                # newline="" keeps the csv module's CRLF line ends; the chunks already start with the BOM.
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                    for chunk in orders_export.csv_chunks(orders, for_spreadsheets=for_spreadsheets):
                        fh.write(chunk)
            os.chmod(tmp_name, 0o666 & ~_umask())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {row_count} item rows of {order_count} orders to {path} ({path.stat().st_size} bytes)."
        ))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
