"""Periodic sandbox Douyin work: the demo shops' buyers and sellers act, due push messages go to the shops'
callback URLs (in the same tick, so a new order's message leaves at once), old records go."""
import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from . import marketplace, push
from .models import DouyinCall, DouyinPushMessage, DouyinShop

log = logging.getLogger(__name__)
CALLS_KEPT = timedelta(days=1)
MESSAGES_KEPT = timedelta(days=3)


def sandbox_douyin_activity() -> int:
    """Tick every shop with demo_activity on, then deliver every push-enabled shop's due messages; returns how
    many orders and after-sales changed plus how many messages were delivered."""
    now = timezone.now()
    changed = 0
    for shop in DouyinShop.objects.filter(demo_activity=True):
        counts = marketplace.activity_tick(shop, now=now)
        changed += sum(counts.values())
        if any(counts.values()):
            log.info("sandbox Douyin shop %s: %s", shop.shop_name, counts)
    changed += messages_deliver_all(now=timezone.now())
    DouyinCall.objects.filter(at__lt=now - CALLS_KEPT).delete()
    DouyinPushMessage.objects.filter(Q(delivered_at__isnull=False) | Q(dropped=True),
                                     created_at__lt=now - MESSAGES_KEPT).delete()
    return changed


def messages_deliver_all(*, now=None) -> int:
    """Deliver the due messages of every shop with push on and a callback URL; returns how many were taken."""
    now = now or timezone.now()
    delivered = 0
    for shop in DouyinShop.objects.filter(push_enabled=True).exclude(callback_url=""):
        counts = push.messages_deliver(shop, now)
        delivered += counts["delivered"]
        if counts["failed"]:
            log.info("sandbox Douyin shop %s: %s push messages not taken, retried later", shop.shop_name,
                     counts["failed"])
    return delivered
