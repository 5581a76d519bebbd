"""Write a merchant's purchase suggestions (采购建议单) to FILE.xlsx or FILE.csv, with the page's numbers."""
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, no_translations

from merchant.models import Merchant
from merchant.replenishment import suggestion_list
from merchant.spreadsheets import replenishment_export

FORMATS = {".xlsx": "xlsx", ".csv": "csv"}


class Command(BaseCommand):
    help = ("Write a merchant's purchase suggestions to FILE.xlsx or FILE.csv (format from the extension), one row "
            "per product: erp_product_id, name, spec, available, on_order, forecast_daily, suggested_qty, reason.")

    def add_arguments(self, parser):
        parser.add_argument("merchant", metavar="MERCHANT_CODE", help="The merchant's code, e.g. demo.")
        parser.add_argument("--out", required=True, metavar="FILE", help="Output file ending in .xlsx or .csv.")
        parser.add_argument("--only-to-order", action="store_true",
                            help="Only products with a suggested quantity above 0.")

    @no_translations  # one language on the terminal: the reasons in English like the command's own messages
    def handle(self, *args, merchant, out, only_to_order=False, **options):
        path = Path(out)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise CommandError(f"--out: {out!r} must end in .xlsx or .csv (the format comes from the extension).")
        if not path.parent.is_dir():
            raise CommandError(f"--out: the directory {str(path.parent)!r} does not exist.")
        try:
            merchant_obj = Merchant.objects.get(code=merchant)
        except Merchant.DoesNotExist:
            raise CommandError(f"No merchant with code {merchant!r}.") from None

        rows = suggestion_list(merchant_obj, only_positive=only_to_order)
        # Write next to the target and rename at the end, so a failed run never leaves half a file behind.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            if fmt == "xlsx":
                with os.fdopen(fd, "wb") as fh:
                    for chunk in replenishment_export.xlsx_chunks(rows, keys_as_header=True):
                        fh.write(chunk)
            else:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                    for chunk in replenishment_export.csv_chunks(rows):
                        fh.write(chunk)
            current = os.umask(0)
            os.umask(current)
            os.chmod(tmp_name, 0o666 & ~current)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        to_order = sum(1 for s in rows if s.suggested_qty > 0)
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {len(rows)} products ({to_order} to order, {sum(s.suggested_qty for s in rows)} units in all) "
            f"to {path} ({path.stat().st_size} bytes)."
        ))
