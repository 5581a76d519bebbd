"""Periodic sandbox work: the demo shops' buyers and sellers act, old call records go."""
import logging
from datetime import timedelta

from django.utils import timezone

from . import marketplace
from .models import SandboxCall, SandboxShop

log = logging.getLogger(__name__)
CALLS_KEPT = timedelta(days=1)


def sandbox_activity() -> int:
    """Tick every shop with demo_activity on; returns how many trades and refunds changed in all."""
    now = timezone.now()
    changed = 0
    for shop in SandboxShop.objects.filter(demo_activity=True):
        counts = marketplace.activity_tick(shop, now=now)
        changed += sum(counts.values())
        if any(counts.values()):
            log.info("sandbox shop %s: %s", shop.nick, counts)
    SandboxCall.objects.filter(at__lt=now - CALLS_KEPT).delete()
    return changed
