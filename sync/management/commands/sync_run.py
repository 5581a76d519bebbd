"""Operator CLI: run one sync job in the foreground and print one JSON summary line."""
import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from sync.erp.orders import erp_orders_sync
from sync.erp.pull import erp_pull_sync
from sync.errors import SyncError
from sync.marketplaces import adapter_class, is_marketplace
from sync.models import Connection, ConnectionKind, SyncRun
from sync.pipelines import (
    PUSH_KINDS, items_sync, orders_sync, push_sync, reconcile_sync, refunds_sync, stock_check_sync, trace_sync,
)
from sync.runs import LeaseTaken, run_summary


def _moment(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    value = parse_datetime(text)
    if value is None and parse_date(text):
        value = datetime.combine(parse_date(text), datetime.min.time())
    if value is None:
        raise CommandError(f"--{name}: {text!r} is not an ISO date or time")
    return timezone.make_aware(value) if timezone.is_naive(value) else value


ERP_JOBS = {"erp_pull": erp_pull_sync, "erp_orders": erp_orders_sync}
# Jobs a marketplace offers only where its adapter says so (sync.marketplaces.base.Marketplace.supports).
CAPABILITY = {"reconcile": "reconcile", "items": "items", "stock_check": "stock_check", "trace": "trace",
              "prices": "price", "listing": "listing", "logistics": "logistics"}


class Command(BaseCommand):
    help = ("sync_run CONNECTION_ID orders|refunds|reconcile|items|stock_check|stock|prices|listing|logistics|trace|"
            "erp_pull|"
            "erp_orders "
            "[--full] [--since ISO] [--until ISO]")

    def add_arguments(self, parser):
        parser.add_argument("connection_id", type=int)
        parser.add_argument("job", choices=["orders", "refunds", "reconcile", "erp_pull", "erp_orders",
                                                "stock", "prices", "listing", "logistics", "items", "stock_check",
                                                "trace"])
        parser.add_argument("--full", action="store_true", help="orders: full pull by creation time (day windows)")
        parser.add_argument("--since", help="start (ISO; naive times are in the server's time zone)")
        parser.add_argument("--until", help="end (ISO)")

    def handle(self, connection_id, job, full=False, since=None, until=None, **options):
        connection = Connection.objects.filter(pk=connection_id).first()
        if connection is None:
            raise CommandError(f"no connection with id {connection_id}")
        if connection.stopped_reason:
            self.stderr.write(f"note: the connection was stopped: {connection.stopped_reason}")
        if (job in ERP_JOBS) != (connection.kind == ConnectionKind.ERP):
            raise CommandError(f"{job} does not apply to a {connection.get_kind_display()} connection")
        if is_marketplace(connection.kind) and job in CAPABILITY \
                and CAPABILITY[job] not in adapter_class(connection.kind).supports:
            raise CommandError(f"{job} is not offered by a {connection.get_kind_display()} connection")
        since, until = _moment(since, "since"), _moment(until, "until")
        if since and until and since >= until:
            raise CommandError("--since must be before --until")
        try:
            if job == "orders":
                summary = orders_sync(connection, full=full, since=since, until=until, trigger="cli")
            elif job == "items":
                summary = items_sync(connection, trigger="cli")
            elif job == "stock_check":
                summary = stock_check_sync(connection, trigger="cli")
            elif job == "trace":
                summary = trace_sync(connection, trigger="cli")
            elif job in PUSH_KINDS:
                summary = push_sync(connection, module=job, trigger="cli")
            elif job in ERP_JOBS:
                summary = ERP_JOBS[job](connection, trigger="cli")
            elif job == "refunds":
                summary = refunds_sync(connection, trigger="cli", until=until)
            else:
                local = timezone.localtime
                summary = reconcile_sync(connection, first=local(since).date() if since else None,
                                         last=local(until).date() if until else None, trigger="cli")
        except LeaseTaken as exc:
            raise CommandError(str(exc)) from None
        except SyncError:
            # The run is recorded with its errors; print that record rather than a traceback.
            summary = run_summary(SyncRun.objects.filter(connection=connection).latest("started_at", "id"))
        self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
        if summary.get("outcome") != "ok":
            raise SystemExit(1)
