"""Takes: what one marking `GET /api/v1/orders` returned, recorded in its transaction, so the page can be fetched
again (GET /api/v1/orders/takes/{take_id}) when the ERP lost the answer. Its orders are marked taken by then and
would never come back under `sync_status=not_taken`."""
import secrets
from datetime import timedelta

from django.utils import timezone

from merchant.models import OrderTake

TAKE_KEEP = timedelta(days=7)
PREFIX = "tk_"


def order_take_record(*, credential, orders, next_cursor: str | None) -> OrderTake:
    """Record the page; takes past TAKE_KEEP of the merchant go at the same time (a cheap, indexed delete, so no
    scheduled job is needed)."""
    now = timezone.now()
    OrderTake.objects.filter(merchant=credential.merchant, created_at__lt=now - TAKE_KEEP).delete()
    return OrderTake.objects.create(
        merchant=credential.merchant, credential=credential, public_id=PREFIX + secrets.token_hex(16),
        order_ids=[order.pk for order in orders], next_cursor=next_cursor or "", created_at=now)


def order_take_find(*, merchant, public_id: str) -> OrderTake | None:
    """The merchant's take by its id; another merchant's take, or one past TAKE_KEEP, is unknown."""
    return OrderTake.objects.select_related("merchant").filter(
        merchant=merchant, public_id=public_id[:40], created_at__gte=timezone.now() - TAKE_KEEP).first()
