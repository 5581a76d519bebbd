"""Operator CLI: add a connection to a merchant; prints the new connection's id."""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, no_translations

from merchant.models import AuditSource, Merchant
from merchant.permissions import Actor
from sync.marketplaces.top.signing import SIGN_METHODS
from sync.erp.services import erp_connection_create
from sync.errors import SyncError
from sync.marketplaces.douyin.services import douyin_connection_create, douyin_token_obtain
from sync.marketplaces.top.services import connection_create

# What each kind needs: argparse cannot require an option for one positional value only.
REQUIRED = {"top": ("gateway", "app_key", "app_secret", "session"), "erp": ("base_url", "key", "secret"),
            "douyin": ("gateway", "app_key", "app_secret", "shop_id")}


class Command(BaseCommand):
    help = ("connection_add MERCHANT_CODE top --gateway URL --app-key K --app-secret S --session T "
            "[--sign-method md5|hmac|hmac-sha256] [--calls-per-minute N]\n"
            "connection_add MERCHANT_CODE erp --base-url URL --key K --secret S [--calls-per-minute N]\n"
            "connection_add MERCHANT_CODE douyin --gateway URL --app-key K --app-secret S --shop-id ID "
            "[--sign-method hmac-sha256|md5] (a self-use app: the access token is obtained and stored)")

    def add_arguments(self, parser):
        parser.add_argument("merchant_code")
        parser.add_argument("kind", choices=["top", "erp", "douyin"])
        parser.add_argument("--gateway", help="top: e.g. https://eco.taobao.com/router/rest; "
                                              "douyin: e.g. https://openapi-fxg.jinritemai.com")
        parser.add_argument("--app-key", help="top")
        parser.add_argument("--app-secret", help="top")
        parser.add_argument("--session", help="top")
        parser.add_argument("--sign-method", choices=SIGN_METHODS, default=None,
                            help="top (default md5), douyin (default hmac-sha256)")
        parser.add_argument("--shop-id", help="douyin: the shop's id (店铺ID)")
        parser.add_argument("--base-url", help="erp: the bridge's base URL (docs/erp-bridge.md)")
        parser.add_argument("--key", help="erp: the key the bridge knows us by")
        parser.add_argument("--secret", help="erp: the secret requests are signed with")
        parser.add_argument("--calls-per-minute", type=int, default=100)
        parser.add_argument("--name", default="")
        parser.add_argument("--orders-interval", type=int, default=60,
                            help="seconds between order pulls (erp: between pulls and order handoffs)")

    @no_translations  # one language on the terminal: service messages in English like the command's own
    def handle(self, *args, **o):
        merchant = Merchant.objects.filter(code=o["merchant_code"]).first()
        if merchant is None:
            raise CommandError(f"no merchant with code {o['merchant_code']!r}")
        if o["calls_per_minute"] < 1:
            raise CommandError("--calls-per-minute must be at least 1")
        missing = [f"--{name.replace('_', '-')}" for name in REQUIRED[o["kind"]] if not o[name]]
        if missing:
            raise CommandError(f"{o['kind']} needs {', '.join(missing)}")
        actor = Actor.system(AuditSource.SYSTEM)
        try:
            if o["kind"] == "erp":
                connection = erp_connection_create(
                    merchant=merchant, actor=actor, app_secret=o["secret"], name=o["name"] or f"ERP {o['key']}",
                    gateway_url=o["base_url"], app_key=o["key"], calls_per_minute=o["calls_per_minute"],
                    orders_interval=o["orders_interval"],
                )
            elif o["kind"] == "douyin":
                connection = douyin_connection_create(
                    merchant=merchant, actor=actor, app_secret=o["app_secret"], shop_id=o["shop_id"],
                    name=o["name"] or f"Douyin {o['shop_id']}", gateway_url=o["gateway"], app_key=o["app_key"],
                    sign_method=o["sign_method"] or "hmac-sha256", calls_per_minute=o["calls_per_minute"],
                    orders_interval=o["orders_interval"],
                )
                self._obtain_token(connection)
            else:
                connection = connection_create(
                    merchant=merchant, actor=actor, app_secret=o["app_secret"],
                    session=o["session"], name=o["name"] or f"TOP {o['app_key']}", gateway_url=o["gateway"],
                    app_key=o["app_key"], sign_method=o["sign_method"] or "md5", calls_per_minute=o["calls_per_minute"],
                    orders_interval=o["orders_interval"],
                )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(str(connection.pk))

    def _obtain_token(self, connection) -> None:
        """The shop's first access token, now; a refusal leaves no connection behind."""
        try:
            douyin_token_obtain(connection)
        except SyncError as exc:
            connection.delete()
            raise CommandError(f"Douyin did not give an access token: {exc}") from None
