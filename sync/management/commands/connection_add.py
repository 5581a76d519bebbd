"""Operator CLI: add a connection to a merchant; prints the new connection's id."""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from merchant.models import AuditSource, Merchant
from merchant.permissions import Actor
from sync.connectors.top.signing import SIGN_METHODS
from sync.services import connection_create


class Command(BaseCommand):
    help = ("connection_add MERCHANT_CODE top --gateway URL --app-key K --app-secret S --session T "
            "[--sign-method md5|hmac|hmac-sha256] [--calls-per-minute N]")

    def add_arguments(self, parser):
        parser.add_argument("merchant_code")
        parser.add_argument("kind", choices=["top"])
        parser.add_argument("--gateway", required=True, help="e.g. https://eco.taobao.com/router/rest")
        parser.add_argument("--app-key", required=True)
        parser.add_argument("--app-secret", required=True)
        parser.add_argument("--session", required=True)
        parser.add_argument("--sign-method", choices=SIGN_METHODS, default="md5")
        parser.add_argument("--calls-per-minute", type=int, default=100)
        parser.add_argument("--name", default="")
        parser.add_argument("--orders-interval", type=int, default=60, help="seconds between order pulls")

    def handle(self, *args, **o):
        merchant = Merchant.objects.filter(code=o["merchant_code"]).first()
        if merchant is None:
            raise CommandError(f"no merchant with code {o['merchant_code']!r}")
        if o["calls_per_minute"] < 1:
            raise CommandError("--calls-per-minute must be at least 1")
        try:
            connection = connection_create(
                merchant=merchant, actor=Actor.system(AuditSource.SYSTEM), app_secret=o["app_secret"],
                session=o["session"], name=o["name"] or f"TOP {o['app_key']}", gateway_url=o["gateway"],
                app_key=o["app_key"], sign_method=o["sign_method"], calls_per_minute=o["calls_per_minute"],
                orders_interval=o["orders_interval"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(str(connection.pk))
