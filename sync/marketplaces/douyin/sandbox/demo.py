"""The demo merchant's Douyin shop: a sandbox shop selling its listed products (SKU code = the product's
code, as the TOP demo's outer ids), a few days of orders, buyers acting every few seconds, push messages to
the app's /hooks/douyin/. The connection to it is made by the caller (demo_load)."""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from merchant.models import ListingState, Merchant
from merchant.sellable import sellable_stock

from . import marketplace
from .models import DouyinOrder, DouyinShop

APP_KEY = "7311000000000000001"
# Public demo values for a simulated platform; a real connection's secret is entered by its owner.
APP_SECRET = "demo-douyin-sandbox-secret"
SHOP_ID = 61_000_001
SHOP_NAME = "演示抖店"
PAST_ORDERS = 120
PRODUCTS = 500


def demo_douyin_shop(*, merchant: Merchant, base_url: str, callback_url: str | None = None) -> tuple[str, str, str, int]:
    """Ensure the demo shop, its products (stock = what a push would have set) and past orders. `base_url` is
    the sandbox gateway base this server serves (http://HOST:PORT/sandbox/douyin); push messages go to
    `callback_url` (default: the same server's /hooks/douyin/). Returns (base_url, app_key, app_secret,
    shop_id) for the connection."""
    callback_url = callback_url or base_url.split("/sandbox/")[0] + "/hooks/douyin/"
    with transaction.atomic():
        shop = marketplace.shop_create(app_key=APP_KEY, app_secret=APP_SECRET, shop_id=SHOP_ID, shop_name=SHOP_NAME)
        DouyinShop.objects.filter(pk=shop.pk).update(demo_activity=True, push_enabled=True, callback_url=callback_url)
        products = list(merchant.products.filter(listing_state=ListingState.LISTED).order_by("erp_product_id")[:PRODUCTS])
        sellable = sellable_stock(products, merchant)
        marketplace.products_from_codes(shop, [
            (p.erp_product_id, p.name, int(p.default_price * 100), sellable[p.pk]) for p in products])
        if products and not DouyinOrder.objects.filter(shop=shop).exists():
            now = timezone.now()
            marketplace.orders_generate(shop, PAST_ORDERS, start=now - timedelta(days=6),
                                        end=now - timedelta(minutes=10), seed=20261204)
    return base_url, APP_KEY, APP_SECRET, SHOP_ID


CONNECTION_NAME = "Sandbox Douyin shop (demo)"


def demo_douyin_connect(*, merchant: Merchant, base_url: str) -> dict:
    """Ensure the demo Douyin shop and the merchant's connection to it at `base_url` (the port may differ between
    runs). The connection gets its access token with its first call, on a worker, as one added in the back office
    does. Returns what it did."""
    from merchant.models import AuditSource
    from merchant.permissions import Actor
    from sync.marketplaces.douyin.services import douyin_connection_create
    from sync.models import Connection, ConnectionKind

    base_url, app_key, app_secret, shop_id = demo_douyin_shop(merchant=merchant, base_url=base_url)
    connection = Connection.objects.filter(merchant=merchant, kind=ConnectionKind.DOUYIN, app_key=app_key).first()
    if connection is None:
        connection = douyin_connection_create(
            merchant=merchant, actor=Actor.system(AuditSource.SYSTEM), app_secret=app_secret, shop_id=str(shop_id),
            name=CONNECTION_NAME, gateway_url=base_url, app_key=app_key, orders_interval=60)
    else:
        Connection.objects.filter(pk=connection.pk).update(gateway_url=base_url)
    return {"connection": connection.pk, "shop_id": shop_id}
