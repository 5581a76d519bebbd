"""Reads of an ERP connection's state for its page: how far each feed is applied, the orders it refused."""
from .models import ErpCursor, ErpKind, ErpOrderRefusal

REFUSALS_SHOWN = 20


def erp_state(connection) -> dict:
    """{"feeds": [(kind label, cursor row or None)] in pull order, "refusals": the latest refused orders}."""
    cursors = {c.kind: c for c in ErpCursor.objects.filter(connection=connection)}
    return {
        "feeds": [(label, cursors.get(kind)) for kind, label in ErpKind.choices],
        "refusals": list(ErpOrderRefusal.objects.filter(connection=connection).select_related("order")
                         .order_by("-refused_at", "-pk")[:REFUSALS_SHOWN]),
    }
