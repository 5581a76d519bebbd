"""The outbox to marketplaces (SPEC S4, DESIGN rule 3): every write of stock, price or listing, and every order
that changes sellable stock or ships, records here in its own transaction what a connection must be told,
and asks for a push once it commits. Redis only carries that request; the dispatcher finds pending rows by
itself, so a flushed queue or a killed worker delays a push but never loses it.

The back office reports its writes through merchant.changes; OutboxWriter (registered in SyncConfig.ready)
turns each into rows here, inside the write's transaction.

A row is a (connection, kind, product) or (connection, logistics, order). A change bumps its generation; a
push claims the rows that are due (recording the generation it saw), pushes the value in force, and
acknowledges that generation only. A change made meanwhile has a newer generation and stays pending.
"""
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import BooleanField, Case, DateTimeField, F, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from merchant.models import Batch, Merchant, OrderSource, OrderStatus, Product
from merchant.sellable import sellable_stock

from .enqueue import push_enqueue, push_job_id  # noqa: F401  push_job_id: the push's job id, named once there
from .models import Connection, ConnectionKind, Outbox, OutboxKind

log = logging.getLogger(__name__)

CHUNK = 500
# A claimed row is in flight this long; a worker killed mid-push gives it back when this passes (the run
# lease in sync.runs lasts as long, so the next run cannot start earlier anyway).
IN_FLIGHT = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
PRODUCT_KINDS = (OutboxKind.STOCK, OutboxKind.PRICE, OutboxKind.LISTING)


class OutboxWriter:
    """merchant.changes' subscriber: each change of the back office becomes outbox rows, in its transaction."""

    def products_changed(self, *, merchant_id: int, product_ids, kinds) -> int:
        return outbox_products_changed(merchant_id=merchant_id, product_ids=product_ids, kinds=kinds)

    def orders_changed(self, *, orders) -> int:
        return outbox_logistics_changed(orders=orders)

    def expiring_batches_recheck(self, *, today=None) -> int:
        return outbox_expiring_batches_recheck(today=today)

    def __eq__(self, other) -> bool:
        return isinstance(other, OutboxWriter)

    def __hash__(self) -> int:
        return hash(OutboxWriter)


def _connections(merchant_id: int) -> list[Connection]:
    # Stopped connections record too: the owner fixes the session and every change made meanwhile goes out.
    # Disabled ones do not: they are off on purpose.
    return list(Connection.objects.filter(merchant_id=merchant_id, kind=ConnectionKind.TOP, is_enabled=True)
                .only("pk", "is_enabled", "stopped_reason"))


def outbox_products_changed(*, merchant_id: int, product_ids: Iterable[int] | None, kinds: Iterable[str],
                            connection_ids: Iterable[int] | None = None) -> int:
    """Record that the `kinds` (stock, price, listing) of these products of the merchant changed, for each of
    its enabled marketplace connections (or only those of `connection_ids`: a connection's own stock rule
    changed), and ask for a push of each after commit. `product_ids=None` means all the merchant's products (a
    merchant setting changed). Call it inside the write's transaction. Returns how many rows it marked; a few
    queries per 500 products."""
    kinds = [kind for kind in dict.fromkeys(kinds) if kind in PRODUCT_KINDS]
    if not kinds:
        return 0
    if product_ids is not None:
        product_ids = sorted({pk for pk in product_ids if pk})
        if not product_ids:
            return 0
    connections = _connections(merchant_id)
    if connection_ids is not None:
        wanted = set(connection_ids)
        connections = [c for c in connections if c.pk in wanted]
    if not connections:
        return 0
    connection_ids = [c.pk for c in connections]
    now = timezone.now()
    marked = 0
    with transaction.atomic():
        if product_ids is None:
            for kind in kinds:
                for connection_id in connection_ids:
                    # Ids only, read in full before inserting into the table the query looks at.
                    missing = list(Product.objects.filter(merchant_id=merchant_id)
                                   .exclude(pk__in=Outbox.objects.filter(connection_id=connection_id, kind=kind,
                                                                         product__isnull=False).values("product_id"))
                                   .values_list("pk", flat=True))
                    for start in range(0, len(missing), CHUNK):
                        Outbox.objects.bulk_create([
                            Outbox(connection_id=connection_id, kind=kind, product_id=pk, due_at=now)
                            for pk in missing[start:start + CHUNK]
                        ], ignore_conflicts=True)
            where = Q(connection_id__in=connection_ids, kind__in=kinds, product__merchant_id=merchant_id)
            list(Outbox.objects.select_for_update().filter(where).order_by("pk").values_list("pk", flat=True))
            marked = _bump(where, now)
        else:
            for start in range(0, len(product_ids), CHUNK):
                chunk = product_ids[start:start + CHUNK]
                # Locked in primary key order, as every writer does: two writes bumping overlapping rows then
                # wait for each other instead of deadlocking (PostgreSQL; SQLite serializes writers anyway).
                have = set(Outbox.objects.select_for_update()
                           .filter(connection_id__in=connection_ids, kind__in=kinds, product_id__in=chunk)
                           .order_by("pk").values_list("connection_id", "kind", "product_id"))
                Outbox.objects.bulk_create([
                    Outbox(connection_id=c, kind=k, product_id=p, due_at=now)
                    for c in connection_ids for k in kinds for p in chunk if (c, k, p) not in have
                ], ignore_conflicts=True, batch_size=CHUNK)
                marked += _bump(Q(connection_id__in=connection_ids, kind__in=kinds, product_id__in=chunk), now)
    for connection in connections:
        if connection.is_active:
            for kind in kinds:
                transaction.on_commit(partial(push_enqueue, connection_id=connection.pk, kind=kind))
    return marked


def outbox_products_due(*, connection_id: int, product_ids: Iterable[int]) -> int:
    """These products were just found on (or linked to) one connection's marketplace: mark their stock, price
    and listing due there, so the marketplace gets the values in force. Call it inside the write's
    transaction; returns how many rows it marked."""
    product_ids = sorted({pk for pk in product_ids if pk})
    connection = Connection.objects.filter(pk=connection_id, kind=ConnectionKind.TOP, is_enabled=True).first()
    if connection is None or not product_ids:
        return 0
    now = timezone.now()
    marked = 0
    with transaction.atomic():
        for start in range(0, len(product_ids), CHUNK):
            chunk = product_ids[start:start + CHUNK]
            Outbox.objects.bulk_create([
                Outbox(connection_id=connection_id, kind=kind, product_id=pk, due_at=now)
                for kind in PRODUCT_KINDS for pk in chunk
            ], ignore_conflicts=True, batch_size=CHUNK)
            marked += _bump(Q(connection_id=connection_id, kind__in=PRODUCT_KINDS, product_id__in=chunk), now)
    if connection.is_active:
        for kind in PRODUCT_KINDS:
            transaction.on_commit(partial(push_enqueue, connection_id=connection_id, kind=kind))
    return marked


def _bump(where: Q, now) -> int:
    """A new generation for the rows in `where`. A row that was settled becomes due now with a fresh count of
    attempts; one already pending keeps its schedule (a backoff is not cut short by a burst of changes)."""
    settled = When(pending=False, then=Value(now))
    return Outbox.objects.filter(where).update(
        generation=F("generation") + 1, pending=True,
        dirty_since=Case(settled, default=F("dirty_since"), output_field=DateTimeField()),
        due_at=Case(settled, default=F("due_at"), output_field=DateTimeField()),
        attempts=Case(When(pending=False, then=Value(0)), default=F("attempts"), output_field=PositiveIntegerField()),
    )


def outbox_logistics_changed(*, orders: Iterable) -> int:
    """Orders' status or lines changed (merchant.changes.orders_changed, which has already marked the stock
    their change moved): a marketplace order that is now shipped must tell its marketplace. Call it inside
    the write's transaction; returns how many rows it marked, a few queries per 500 orders."""
    return _logistics_mark([order for order in orders if order.status == OrderStatus.SHIPPED
                            and order.connection_id and order.source == OrderSource.MARKETPLACE])


def _logistics_mark(orders) -> int:
    by_connection = defaultdict(list)
    for order in orders:
        by_connection[order.connection_id].append(order.pk)
    if not by_connection:
        return 0
    now = timezone.now()
    marked = 0
    for connection in Connection.objects.filter(pk__in=list(by_connection), kind=ConnectionKind.TOP, is_enabled=True):
        ids = sorted(by_connection[connection.pk])
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            Outbox.objects.bulk_create([
                Outbox(connection=connection, kind=OutboxKind.LOGISTICS, order_id=pk, due_at=now) for pk in chunk
            ], ignore_conflicts=True)
            marked += _bump(Q(connection=connection, kind=OutboxKind.LOGISTICS, order_id__in=chunk), now)
        if connection.is_active:
            transaction.on_commit(partial(push_enqueue, connection_id=connection.pk, kind=OutboxKind.LOGISTICS))
    return marked


def outbox_expiring_batches_recheck(*, today=None) -> int:
    """Batches cross a merchant's expiry exclusion window as days pass, with nobody editing anything: mark the
    stock of batch-managed products with a batch that crossed it since yesterday (a day of overlap, in case
    the job missed a run) whose sellable stock is not what was last pushed. Run by the periodic batch-expiry
    job; returns how many rows it marked."""
    # Here, not at the top: a stock rule's change is itself written through this module's functions.
    from .stock_rules import offered, rules_for

    today = today or timezone.localdate()
    marked = 0
    merchant_ids = Connection.objects.filter(kind=ConnectionKind.TOP, is_enabled=True).values("merchant_id")
    for merchant in Merchant.objects.filter(pk__in=merchant_ids):
        edge = today + timedelta(days=merchant.expiry_exclusion_days)
        crossed = Q(expiry_date__range=(edge - timedelta(days=1), edge)) | Q(
            expiry_date__range=(today - timedelta(days=1), today))
        ids = list(Batch.objects.filter(crossed, product__merchant=merchant, product__batch_managed=True,
                                        quantity__gt=0).values_list("product_id", flat=True).distinct())
        for start in range(0, len(ids), CHUNK):
            products = Product.objects.filter(pk__in=ids[start:start + CHUNK]).only("pk", "stock", "batch_managed")
            sellable = sellable_stock(products, merchant, today=today)
            pushed = {}  # connection id -> {product id: the value it acknowledged}
            for connection_id, product_id, value in Outbox.objects.filter(
                    kind=OutboxKind.STOCK, product_id__in=list(sellable), connection__is_enabled=True,
            ).values_list("connection_id", "product_id", "pushed_value"):
                pushed.setdefault(connection_id, {})[product_id] = value
            stale = {pk for pk in sellable if not any(pk in values for values in pushed.values())}
            for connection_id, values in pushed.items():
                rules = rules_for(connection_id, list(values))
                stale.update(pk for pk, value in values.items()
                             if value != str(offered(sellable[pk], rules[pk]).pushed))
            marked += outbox_products_changed(merchant_id=merchant.pk, product_ids=stale, kinds=(OutboxKind.STOCK,))
    return marked


# Claims and outcomes, used by the push pipelines (sync.pipelines.push)

def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 30 s doubling, at most an hour."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1))


def outbox_claim(*, connection_id: int, kind: str, now, limit: int) -> list[Outbox]:
    """Claim up to `limit` due rows: each records the generation it now pushes and counts an attempt, and
    is not due again before IN_FLIGHT has passed. Returns the claimed rows (product or order loaded)."""
    token = uuid.uuid4().hex
    with transaction.atomic():
        # Rows a write is bumping right now are skipped, not waited for (and never deadlocked on): they stay
        # due and the next pass takes them.
        ids = list(Outbox.objects.select_for_update(skip_locked=True)
                   .filter(connection_id=connection_id, kind=kind, pending=True, due_at__lte=now)
                   .order_by("due_at", "pk").values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        # Conditional: a row another run claimed meanwhile (its due_at moved) is not taken twice.
        Outbox.objects.filter(pk__in=ids, pending=True, due_at__lte=now).update(
            claim_token=token, claimed_generation=F("generation"), attempts=F("attempts") + 1,
            due_at=now + IN_FLIGHT, last_attempt_at=now,
        )
    related = "product" if kind in PRODUCT_KINDS else "order__carrier"
    return list(Outbox.objects.filter(claim_token=token).select_related(related).order_by("pk"))


def _still_pending(claimed: int):
    return Case(When(generation__gt=claimed, then=Value(True)), default=Value(False), output_field=BooleanField())


def outbox_acked(row: Outbox, value: str, *, now) -> bool:
    """The marketplace has `value` for the generation the row claimed. A newer change keeps it pending.
    False when the claim was lost (the row was claimed again after IN_FLIGHT): nothing is written."""
    return bool(Outbox.objects.filter(pk=row.pk, claim_token=row.claim_token).update(
        done_generation=row.claimed_generation, pending=_still_pending(row.claimed_generation),
        pushed_value=str(value)[:100], pushed_at=now, attempts=0, last_error="", failed_at=None,
        due_at=now, claim_token="",
    ))


def outbox_failed(row: Outbox, error: str, *, now, permanent: bool) -> bool:
    """A failed attempt: a permanent one (or the last allowed) gives up on the claimed generation and shows
    the reason; otherwise the row is due again after a backoff. False when the claim was lost."""
    if permanent or row.attempts >= MAX_ATTEMPTS:
        return bool(Outbox.objects.filter(pk=row.pk, claim_token=row.claim_token).update(
            done_generation=row.claimed_generation, pending=_still_pending(row.claimed_generation),
            last_error=error[:500], last_error_at=now, failed_at=now, due_at=now, claim_token="",
        ))
    return bool(Outbox.objects.filter(pk=row.pk, claim_token=row.claim_token).update(
        last_error=error[:500], last_error_at=now, due_at=now + backoff(row.attempts), claim_token="",
    ))


def outbox_skipped(row: Outbox, *, now) -> bool:
    """The product is not on the row's marketplace (or was unlinked there by hand): settle the claimed
    generation without a push and without a failure; the last pushed value stays as it was. False when the
    claim was lost."""
    return bool(Outbox.objects.filter(pk=row.pk, claim_token=row.claim_token).update(
        done_generation=row.claimed_generation, pending=_still_pending(row.claimed_generation), attempts=0,
        last_error="", failed_at=None, due_at=now, claim_token="",
    ))


def outbox_release(rows: Iterable[Outbox], error: str, *, now, count_attempt: bool = True, due=None) -> None:
    """Give claimed rows back unpushed (the run stopped before reaching them): due after a backoff, or
    without counting the attempt (due at `due`, default now) when it was never tried or the connection
    itself failed (it is stopped until fixed)."""
    for row in rows:
        if count_attempt:
            outbox_failed(row, error, now=now, permanent=False)
            continue
        changes = {"due_at": due or now, "claim_token": "", "attempts": F("attempts") - 1}
        if error:
            changes.update(last_error=error[:500], last_error_at=now)
        Outbox.objects.filter(pk=row.pk, claim_token=row.claim_token).update(**changes)


def outbox_due(now=None) -> set[tuple[int, str]]:
    """(connection id, kind) pairs with rows due now, for the dispatcher."""
    now = now or timezone.now()
    return set(Outbox.objects.filter(pending=True, due_at__lte=now).values_list("connection_id", "kind")
               .distinct().order_by())
