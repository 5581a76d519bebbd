"""Messages a marketplace pushed to our callback URL (Douyin), stored by its webhook as PushedMessage rows: fetch
each order they name through the adapter and store it (the same upsert the pulls use), then mark them handled.
Platform-neutral: only the Marketplace interface is used. Polling stays the safety net, so a message lost on the
way only delays its order."""
from django.utils import timezone

from merchant.services.marketplace_orders import orders_upsert_marketplace

from .errors import BusinessError, Permanent, failure_text
from .marketplaces import marketplace_for
from .models import PushedMessage

BATCH = 100


def pushed_messages_handle(connection, *, marketplace=None) -> dict:
    """Handle every unhandled message of the connection, oldest first; returns counts. A retryable failure
    leaves the rest unhandled and is raised (the job is retried); a permanent one (the seller must authorize
    again) stops the connection as a pull would, and is raised; an order the platform does not know is counted
    and its messages marked handled. Two jobs at once are harmless: the upsert is idempotent."""
    from .runs import connection_stop

    try:
        return _handle(connection, marketplace or marketplace_for(connection))
    except Permanent as exc:
        connection_stop(connection, failure_text(exc))
        raise


def _handle(connection, market) -> dict:
    summary = {"messages": 0, "orders": 0, "created": 0, "updated": 0, "unchanged": 0, "unknown": 0}
    while True:
        rows = list(PushedMessage.objects.filter(connection=connection, handled_at=None)
                    .order_by("received_at", "id")[:BATCH])
        if not rows:
            return summary
        trades = []
        for order_no in dict.fromkeys(row.order_no for row in rows if row.order_no):
            try:
                trades.append(market.order_detail(order_no))
            except BusinessError:
                summary["unknown"] += 1
        counts = orders_upsert_marketplace(connection=connection, trades=trades)
        for name in ("created", "updated", "unchanged"):
            summary[name] += getattr(counts, name, 0)
        summary["orders"] += len(trades)
        summary["messages"] += PushedMessage.objects.filter(
            pk__in=[row.pk for row in rows], handled_at=None).update(handled_at=timezone.now())
