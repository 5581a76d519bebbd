"""A sandbox ERP bridge for a merchant: the bridge, the merchant's ERP connection to it, and (for the demo) a
first change log drawn from the merchant's catalog and customers, with the warehouse acting meanwhile."""
from django.db import transaction

from merchant.models import AuditSource, Customer, Merchant
from merchant.permissions import Actor
from sync.erp.services import erp_connection_create
from sync.models import Connection, ConnectionKind

from .erp import erp_changes_add, erp_create, erp_customer_change, erp_product_change
from .models import ChangeKind, SandboxErp, SandboxErpChange

APP_KEY = "demo-erp-bridge"
# Public demo values for a simulated ERP; a real connection's secret is entered by its owner.
APP_SECRET = "demo-erp-secret"
CONNECTION_NAME = "Sandbox ERP (demo)"
SEEDED_PRODUCTS = 30
SEEDED_CUSTOMERS = 5


def sandbox_erp_connect(*, merchant: Merchant, base_url: str, app_key: str, app_secret: str,
                        name: str = "Sandbox ERP", **settings) -> tuple[SandboxErp, Connection]:
    """The bridge with this key and the merchant's ERP connection to it at `base_url` (created, or its URL
    updated: the server's port may differ between runs)."""
    erp = erp_create(app_key=app_key, app_secret=app_secret, name=name)
    connection = Connection.objects.filter(merchant=merchant, kind=ConnectionKind.ERP, app_key=app_key).first()
    if connection is None:
        connection = erp_connection_create(merchant=merchant, actor=Actor.system(AuditSource.SYSTEM),
                                           app_secret=app_secret, name=name, gateway_url=base_url, app_key=app_key,
                                           **settings)
    elif connection.gateway_url != base_url:
        Connection.objects.filter(pk=connection.pk).update(gateway_url=base_url)
        connection.gateway_url = base_url
    return erp, connection


def demo_erp_connect(*, merchant: Merchant, base_url: str) -> dict:
    """The demo merchant's ERP: its first changes (the stock and prices it holds for some of the merchant's
    products, one product only the ERP knows yet, codes for a few customers) and demo activity on."""
    with transaction.atomic():
        erp, connection = sandbox_erp_connect(merchant=merchant, base_url=base_url, app_key=APP_KEY,
                                              app_secret=APP_SECRET, name=CONNECTION_NAME, orders_interval=60)
        SandboxErp.objects.filter(pk=erp.pk).update(demo_activity=True)
        seeded = 0
        if not SandboxErpChange.objects.filter(erp=erp).exists():
            seeded = _seed(erp, merchant)
    return {"connection": connection.pk, "erp": erp.pk, "changes_seeded": seeded}


def _seed(erp: SandboxErp, merchant: Merchant) -> int:
    # Batch-managed products take their stock from batches, which this ERP does not send.
    products = list(merchant.products.filter(batch_managed=False).order_by("erp_product_id")[:SEEDED_PRODUCTS])
    erp_changes_add(erp, ChangeKind.STOCK, [{"erp_product_id": p.erp_product_id, "stock": p.stock} for p in products])
    erp_changes_add(erp, ChangeKind.PRICES, [
        {"erp_product_id": p.erp_product_id, "price_type": "default", "price": float(p.default_price)}
        for p in products])
    erp_product_change(erp, "ERP-NEW-0001", name="维生素C片", spec="100mg*100片", manufacturer="示例制药有限公司",
                       unit="瓶", default_price="8.50", stock=120)
    customers = Customer.objects.exclude(erp_codes__merchant=merchant).order_by("pk")[:SEEDED_CUSTOMERS]
    for n, customer in enumerate(customers, start=1):
        erp_customer_change(erp, f"ERP-K{n:04d}", uscc=customer.uscc, customer_name=customer.name)
    return SandboxErpChange.objects.filter(erp=erp).count()
