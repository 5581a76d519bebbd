"""Create or update a sandbox shop: its credentials, items from a merchant's catalog, generated trades, faults."""
import argparse
import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from merchant.models import Merchant, Product
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxItem, SandboxSku, SandboxTrade

# Option name -> SandboxShop field, set only when the option is given.
SETTINGS = {
    "error_rate": float, "drop_rate": float, "slow_rate": float, "slow_seconds": float, "malformed_rate": float,
    "ban_calls_per_minute": int, "ban_seconds": int, "move_on_page_rate": float, "buyer_message_rate": float,
}


class Command(BaseCommand):
    help = "Create or update a sandbox TOP shop; prints one JSON line with its id, app key and counts."

    def add_arguments(self, parser):
        parser.add_argument("--app-key", required=True)
        parser.add_argument("--app-secret", required=True)
        parser.add_argument("--session", required=True)
        parser.add_argument("--nick", default="sandbox-shop")
        parser.add_argument("--from-merchant", metavar="MERCHANT_CODE",
                            help="create one item and SKU per product of this merchant (outer id = ERP id)")
        parser.add_argument("--trades", type=int, default=0, help="generate this many trades")
        parser.add_argument("--days", type=float, default=7.0, help="spread generated trades over the last D days")
        parser.add_argument("--seed", type=int, default=0, help="seed for the generated trades")
        for option, kind in SETTINGS.items():
            parser.add_argument("--" + option.replace("_", "-"), type=kind, default=None)
        parser.add_argument("--demo-activity", action=argparse.BooleanOptionalAction, default=None,
                            help="let the periodic job create and advance trades")
        parser.add_argument("--tmc", action="store_true", help="turn the message channel on")

    def handle(self, *args, **options):
        shop = marketplace.shop_create(
            app_key=options["app_key"], app_secret=options["app_secret"], session=options["session"],
            nick=options["nick"],
        )
        changed = [field for field in SETTINGS if options[field] is not None]
        for field in changed:
            setattr(shop, field, options[field])
        if options["demo_activity"] is not None:
            shop.demo_activity = options["demo_activity"]
            changed.append("demo_activity")
        if changed:
            shop.save(update_fields=changed)
        if options["tmc"]:
            marketplace.tmc_permit(shop)
        if code := options["from_merchant"]:
            merchant = Merchant.objects.filter(code=code).first()
            if merchant is None:
                raise CommandError(f"no merchant with code {code!r}")
            products = Product.objects.filter(merchant=merchant).values_list(
                "erp_product_id", "name", "default_price", "stock"
            )
            marketplace.items_from_products(shop, products.iterator(chunk_size=2000))
        generated = 0
        if options["trades"] > 0:
            end = timezone.now()
            try:
                generated = marketplace.trades_generate(
                    shop, options["trades"], start=end - timedelta(days=options["days"]), end=end,
                    seed=options["seed"],
                )
            except ValueError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(json.dumps({
            "shop_id": shop.pk, "app_key": shop.app_key, "nick": shop.nick, "tmc_enabled": shop.tmc_enabled,
            "items": SandboxItem.objects.filter(shop=shop).count(),
            "skus": SandboxSku.objects.filter(item__shop=shop).count(),
            "trades": SandboxTrade.objects.filter(shop=shop).count(),
            "generated": generated,
        }))
