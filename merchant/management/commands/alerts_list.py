"""Operator CLI: a merchant's open alerts (follow-ups of stalled parcels, and later kinds), as a table or as
JSON lines (one object per alert: kind, order_no or erp_product_id, since, reason, and the kind's details)."""
import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from merchant.alerts import Alert, open_alerts
from merchant.models import Merchant


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


def alert_json(alert: Alert) -> dict:
    """The alert as one JSON object; times in ISO 8601 with their offset (the server's time zone), null when
    unknown."""
    details = {key: (_local(value) if isinstance(value, datetime) else value) for key, value in alert.details.items()}
    row = {"kind": alert.kind, "order_no": alert.order_no or None, "erp_product_id": alert.erp_product_id or None,
           "since": _local(alert.since), "reason": alert.reason}
    return {**row, **details}


class Command(BaseCommand):
    help = "List a merchant's open alerts (e.g. stalled parcels' follow-ups), as a table or --json lines."

    def add_arguments(self, parser):
        parser.add_argument("merchant", metavar="MERCHANT_CODE", help="The merchant's code, e.g. demo.")
        parser.add_argument("--json", action="store_true", help="One JSON object per line instead of a table.")
        parser.add_argument("--kind", action="append", help="Only alerts of this kind (repeatable), e.g. "
                                                            "logistics_stalled.")

    def handle(self, merchant, kind=None, **options):
        found = Merchant.objects.filter(code=merchant).first()
        if found is None:
            raise CommandError(f"no merchant with code {merchant!r}")
        # Operator output is English whatever the server's language.
        with translation.override("en"):
            alerts = list(open_alerts(found, set(kind) if kind else None))
            if options["json"]:
                for alert in alerts:
                    self.stdout.write(json.dumps(alert_json(alert), ensure_ascii=False))
                return
            self._table(alerts)

    def _table(self, alerts: list[Alert]) -> None:
        if not alerts:
            self.stdout.write("No open alerts.")
            return
        header = ("KIND", "ORDER / PRODUCT", "SINCE", "CARRIER", "TRACKING NO", "ASSIGNEE", "REASON")
        rows = [(a.kind, a.order_no or a.erp_product_id, timezone.localtime(a.since).strftime("%Y-%m-%d %H:%M %z"),
                 a.details.get("carrier", ""), a.details.get("tracking_no", ""), a.details.get("assignee", "") or "-",
                 a.reason + (" (moved again since)" if a.details.get("moved_at") else "")) for a in alerts]
        widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header) - 1)]
        for r in (header, *rows):
            self.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(r, widths)) + "  " + str(r[-1]))
        self.stdout.write(f"{len(alerts)} open alert{'s' if len(alerts) != 1 else ''}.")
