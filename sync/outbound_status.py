"""What the back office shows about pushes to marketplaces: per product and connection the last value the
marketplace acknowledged and any failure, per order its logistics push, per connection what waits or failed."""
from dataclasses import dataclass

from django.db.models import Count, Q

from .models import MarketplaceSku, Outbox, OutboxKind


@dataclass
class PushCounts:
    kind: str
    label: str
    pending: int = 0
    failed: int = 0


def product_pushes(product) -> list[Outbox]:
    """The product's outbox rows, by connection and kind (two queries); each carries `off_marketplace`: the
    product is not on that connection's marketplace (or was unlinked there), so nothing is pushed there."""
    rows = list(Outbox.objects.filter(product=product).select_related("connection")
                .order_by("connection__name", "connection_id", "kind"))
    off = set(MarketplaceSku.objects.filter(product=product, found=False).values_list("connection_id", flat=True))
    for row in rows:
        row.off_marketplace = row.connection_id in off and not row.failed_at
    return rows


def order_logistics_push(order) -> Outbox | None:
    """The order's logistics push to the marketplace it came from, if it was shipped from here."""
    return (Outbox.objects.filter(order=order, kind=OutboxKind.LOGISTICS).select_related("connection")
            .order_by("pk").first())


def connection_push_counts(connection) -> list[PushCounts]:
    """Per kind, how many rows wait to be pushed and how many failed for good (one query)."""
    rows = {
        row["kind"]: row for row in Outbox.objects.filter(connection=connection).values("kind").annotate(
            pending=Count("pk", filter=Q(pending=True)), failed=Count("pk", filter=Q(failed_at__isnull=False)),
        ).order_by()
    }
    return [PushCounts(kind, label, rows.get(kind, {}).get("pending", 0), rows.get(kind, {}).get("failed", 0))
            for kind, label in OutboxKind.choices]


def failed_pushes_by_connection(merchant) -> list[tuple]:
    """[(connection, rows given up on)] for the merchant's connections with any (one query), as the
    connection page's "Failed" column counts them."""
    from .models import Connection

    counts = dict(Outbox.objects.filter(connection__merchant=merchant, failed_at__isnull=False)
                  .values_list("connection_id").annotate(n=Count("pk")).values_list("connection_id", "n").order_by())
    connections = Connection.objects.filter(pk__in=list(counts)).order_by("name", "pk")
    return [(connection, counts[connection.pk]) for connection in connections]
