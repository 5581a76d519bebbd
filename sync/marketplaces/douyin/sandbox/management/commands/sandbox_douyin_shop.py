"""Create or update a sandbox Douyin shop: its credentials, products from a merchant's catalog, generated
orders, push and faults."""
import argparse
import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from merchant.models import Merchant, Product
from sync.marketplaces.douyin.sandbox import marketplace
from sync.marketplaces.douyin.sandbox.models import DouyinOrder, DouyinSku

# Option name -> DouyinShop field, set only when the option is given.
SETTINGS = {
    "error_rate": float, "drop_rate": float, "slow_rate": float, "slow_seconds": float, "malformed_rate": float,
    "ban_calls_per_minute": int, "ban_seconds": int, "move_on_page_rate": float, "index_lag_seconds": int,
    "push_drop_rate": float, "callback_url": str,
}


class Command(BaseCommand):
    help = "Create or update a sandbox Douyin shop; prints one JSON line with its id, app key, shop id and counts."

    def add_arguments(self, parser):
        parser.add_argument("--app-key", required=True)
        parser.add_argument("--app-secret", required=True)
        parser.add_argument("--shop-id", type=int, default=None)
        parser.add_argument("--shop-name", default="抖店沙箱店铺")
        parser.add_argument("--from-merchant", metavar="MERCHANT_CODE",
                            help="create one product and SKU per product of this merchant (SKU code = ERP id)")
        parser.add_argument("--orders", type=int, default=0, help="generate this many orders")
        parser.add_argument("--days", type=float, default=7.0, help="spread generated orders over the last D days")
        parser.add_argument("--seed", type=int, default=0, help="seed for the generated orders")
        for option, kind in SETTINGS.items():
            parser.add_argument("--" + option.replace("_", "-"), type=kind, default=None)
        parser.add_argument("--demo-activity", action=argparse.BooleanOptionalAction, default=None,
                            help="let the periodic job create and advance orders")
        parser.add_argument("--push", action=argparse.BooleanOptionalAction, default=None,
                            help="queue push messages for the callback URL")

    def handle(self, *args, **options):
        shop = marketplace.shop_create(app_key=options["app_key"], app_secret=options["app_secret"],
                                       shop_id=options["shop_id"], shop_name=options["shop_name"])
        changed = [field for field in SETTINGS if options[field] is not None]
        for field in changed:
            setattr(shop, field, options[field])
        for option, field in (("demo_activity", "demo_activity"), ("push", "push_enabled")):
            if options[option] is not None:
                setattr(shop, field, options[option])
                changed.append(field)
        if changed:
            shop.save(update_fields=changed)
        if code := options["from_merchant"]:
            merchant = Merchant.objects.filter(code=code).first()
            if merchant is None:
                raise CommandError(f"no merchant with code {code!r}")
            rows = Product.objects.filter(merchant=merchant).values_list("erp_product_id", "name", "default_price",
                                                                         "stock")
            marketplace.products_from_codes(shop, ((c, n, int(p * 100), s) for c, n, p, s in rows.iterator(2000)))
        generated = 0
        if options["orders"] > 0:
            end = timezone.now()
            try:
                generated = marketplace.orders_generate(shop, options["orders"],
                                                        start=end - timedelta(days=options["days"]), end=end,
                                                        seed=options["seed"])
            except ValueError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(json.dumps({
            "id": shop.pk, "app_key": shop.app_key, "shop_id": shop.shop_id, "shop_name": shop.shop_name,
            "push_enabled": shop.push_enabled, "skus": DouyinSku.objects.filter(product__shop=shop).count(),
            "orders": DouyinOrder.objects.filter(shop=shop).count(), "generated": generated,
        }, ensure_ascii=False))
