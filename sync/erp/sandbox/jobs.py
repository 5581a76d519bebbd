"""Periodic sandbox ERP work: the demo bridges' warehouses move stock and change prices; old call records go."""
import logging
from datetime import timedelta

from django.utils import timezone

from .erp import activity_tick
from .models import SandboxErp, SandboxErpCall

log = logging.getLogger(__name__)
CALLS_KEPT = timedelta(days=1)


def sandbox_erp_activity() -> int:
    """Tick every bridge with demo_activity on; returns how many changes were logged in all."""
    made = 0
    for erp in SandboxErp.objects.filter(demo_activity=True):
        count = activity_tick(erp)
        if count:
            log.info("sandbox ERP %s: %s changes", erp.name, count)
        made += count
    SandboxErpCall.objects.filter(at__lt=timezone.now() - CALLS_KEPT).delete()
    return made
