"""The demo merchant's marketplace: a sandbox shop selling its listed products, a few days of orders,
buyers and sellers acting every few seconds, and a connection to it through the app's own gateway."""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from merchant.models import AuditSource, ListingState, Merchant
from merchant.permissions import Actor
from merchant.sellable import sellable_stock
from sync.models import Connection, ConnectionKind
from sync.erp.sandbox.demo import demo_erp_connect
from sync.marketplaces.top.services import connection_create

from . import marketplace
from .models import SandboxShop, SandboxTrade

APP_KEY = "demo-sandbox-app"
# Public demo values for a simulated marketplace; a real connection's secret is entered by its owner.
APP_SECRET = "demo-sandbox-secret"
SESSION = "demo-sandbox-session"
CONNECTION_NAME = "Sandbox marketplace (demo)"
PAST_TRADES = 120
# Every listed product of the demo merchant is on sale there, so any stock edit in the back office shows up.
ITEMS = 500


def demo_marketplace_connect(*, merchant: Merchant, gateway_url: str) -> dict:
    """Ensure the shop, its items and past trades, and the merchant's connection pointing at
    `gateway_url` (the port may differ between runs). Returns what it did."""
    with transaction.atomic():
        shop = marketplace.shop_create(app_key=APP_KEY, app_secret=APP_SECRET, session=SESSION, nick="演示店铺")
        SandboxShop.objects.filter(pk=shop.pk).update(demo_activity=True, buyer_message_rate=0.1)
        products = list(merchant.products.filter(listing_state=ListingState.LISTED).order_by("erp_product_id")[:ITEMS])
        # The shop starts with what a push would have set (sellable stock); later edits arrive as pushes.
        sellable = sellable_stock(products, merchant)
        marketplace.items_from_products(
            shop, [(p.erp_product_id, p.name, p.default_price, sellable[p.pk]) for p in products])
        made = 0
        if not SandboxTrade.objects.filter(shop=shop).exists():
            now = timezone.now()
            made = marketplace.trades_generate(shop, PAST_TRADES, start=now - timedelta(days=6),
                                               end=now - timedelta(minutes=10), seed=20261122)
        connection = Connection.objects.filter(merchant=merchant, kind=ConnectionKind.TOP, app_key=APP_KEY).first()
        if connection is None:
            connection = connection_create(
                merchant=merchant, actor=Actor.system(AuditSource.SYSTEM), app_secret=APP_SECRET, session=SESSION,
                name=CONNECTION_NAME, gateway_url=gateway_url, app_key=APP_KEY, sign_method="hmac-sha256",
                orders_interval=60,
            )
        else:
            Connection.objects.filter(pk=connection.pk).update(gateway_url=gateway_url)
    # The demo merchant's ERP bridge is served by the same server, next to the marketplace gateway.
    erp = demo_erp_connect(merchant=merchant, base_url=gateway_url.split("/sandbox/")[0] + "/sandbox/erp")
    return {"connection": connection.pk, "shop": shop.pk, "items": len(products), "past_trades_created": made,
            "erp": erp}
