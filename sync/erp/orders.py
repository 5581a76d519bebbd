"""Hand new orders to the ERP bridge (SPEC S9): POST /orders in batches, mark what it accepted as taken.

Which orders: the merchant's orders not taken by the ERP yet that are paid and still to be shipped
(awaiting shipment, partially shipped), oldest first, whatever their source. An unpaid order may still
be cancelled; a shipped, completed or cancelled one is no work for a warehouse. A presale goes once its
balance is paid, or, when the merchant chose so, while it is frozen at deposit (its JSON says presale).

An order is marked taken only once the bridge answered "accepted" or "duplicate" (it already had it, e.g.
our earlier call timed out after it stored the order). Anything else leaves it untaken, so it is sent
again; one the bridge "rejected" waits REFUSED_RETRY before that, so a refusal is not repeated every
minute. While the merchant's orders auto-sync is off, nothing is handed over.
"""
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchant.api.order_json import orders_json, orders_with_parts
from merchant.models import AuditSource, NotificationEvent, Order, OrderStatus
from merchant.permissions import Actor
from merchant.selectors.presale import presale_handed_at_deposit, presale_withheld
from merchant.services.notifications import notify
from merchant.services.order_exchange import orders_mark_taken, orders_marking_paused_reason
from sync.erp.client import ErpClient
from sync.models import Connection, SyncModule
from sync.runs import run_of

from .models import ErpOrderRefusal

HANDOFF_STATUSES = (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTIALLY_SHIPPED)
BATCH = 50
# Batches per run: a large backlog goes over several runs, each renewing its lease per batch.
MAX_BATCHES = 20
REFUSED_RETRY = timedelta(hours=1)


@dataclass
class Handoff:
    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    unanswered: int = 0
    paused: str = ""


def orders_to_hand_over(connection: Connection, now=None):
    """The connection merchant's orders waiting for the ERP, oldest first (refused ones after their wait)."""
    now = now or timezone.now()
    refused = ErpOrderRefusal.objects.filter(connection=connection, order=OuterRef("pk"),
                                             refused_at__gt=now - REFUSED_RETRY)
    merchant = connection.merchant
    return (Order.objects.filter(Q(status__in=HANDOFF_STATUSES) | presale_handed_at_deposit(merchant),
                                 merchant_id=merchant.pk, taken_by_erp=False)
            .exclude(presale_withheld(merchant)).exclude(Exists(refused)).order_by("created_at", "pk"))


def _refusals_record(connection: Connection, refused: dict[int, str], now) -> None:
    existing = {r.order_id: r for r in ErpOrderRefusal.objects.filter(connection=connection, order_id__in=refused)}
    for order_id, message in refused.items():
        row = existing.get(order_id)
        if row is None:
            ErpOrderRefusal.objects.create(connection=connection, order_id=order_id, message=message[:300],
                                           refused_at=now)
        else:
            ErpOrderRefusal.objects.filter(pk=row.pk).update(message=message[:300], refused_at=now,
                                                             attempts=row.attempts + 1)


def erp_orders_hand_over(run, client: ErpClient) -> Handoff:
    """Send the waiting orders in batches of BATCH (at most MAX_BATCHES); returns what the bridge answered."""
    connection, merchant = run.connection, run.connection.merchant
    result = Handoff()
    paused = orders_marking_paused_reason(merchant)
    if paused:
        result.paused = paused
        return result
    actor = Actor.system(source=AuditSource.ERP)
    reason = _("handed to ERP bridge %(name)s") % {"name": connection.name}
    seen: set[int] = set()
    rejected: list[str] = []
    for _batch in range(MAX_BATCHES):
        # Orders already sent in this run are left out, so one the bridge neither took nor refused is not
        # sent again and again within the run.
        orders = list(orders_with_parts(orders_to_hand_over(connection).exclude(pk__in=seen))[:BATCH])
        if not orders:
            break
        seen.update(order.pk for order in orders)
        answers = {a.order_no: a for a in client.orders_send_with_retry(orders_json(merchant, orders))}
        result.sent += len(orders)
        taken, refused, now = [], {}, timezone.now()
        for order in orders:
            answer = answers.get(order.order_no)
            if answer is None:
                result.unanswered += 1
                run.error(_("order %(no)s: the bridge did not answer for it; it is sent again next time")
                          % {"no": order.order_no})
            elif answer.status == "rejected":
                result.rejected += 1
                refused[order.pk] = answer.message or _("rejected without a reason")
                run.error(_("order %(no)s rejected by the ERP: %(message)s")
                          % {"no": order.order_no, "message": refused[order.pk]})
            else:
                setattr(result, answer.status, getattr(result, answer.status) + 1)
                taken.append(order)
        run.renew()
        if taken:
            marked = orders_mark_taken(merchant=merchant, orders=taken, actor=actor, reason=reason)
            run.record.updated += marked
            run.record.unchanged += len(taken) - marked
            ErpOrderRefusal.objects.filter(connection=connection, order__in=taken).delete()
        if refused:
            _refusals_record(connection, refused, now)
        run.record.windows += 1
        run.record.fetched += len(orders)
        rejected += [f"{order.order_no}: {refused[order.pk]}" for order in orders if order.pk in refused]
        if len(orders) < BATCH:
            break
    if rejected:
        _notify_rejected(connection, rejected)
    return result


def _notify_rejected(connection: Connection, rejected: list[str]) -> None:
    lines = rejected[:10] + ([_("…and %(count)d more.") % {"count": len(rejected) - 10}] if len(rejected) > 10 else [])
    notify(merchant=connection.merchant_id, event=NotificationEvent.ERP_REJECTED, subject_key=f"erp:{connection.pk}",
           title=ngettext("ERP bridge %(name)s rejected %(count)d order", "ERP bridge %(name)s rejected %(count)d orders",
                          len(rejected)) % {"name": connection.name, "count": len(rejected)},
           body="\n".join(lines), url=reverse("order_list"))


def erp_orders_sync(connection: Connection, *, trigger: str = "schedule", client_factory=ErpClient) -> dict:
    """One handoff run (the job, the CLI and "sync now" call this): the run's summary and what was answered."""
    handoff = None
    with run_of(connection, SyncModule.ERP_ORDERS, mode="handoff", trigger=trigger) as run:
        handoff = erp_orders_hand_over(run, client_factory(connection, counter=run.counter))
    summary = run.summary()
    summary.update(asdict(handoff or Handoff()))
    return summary
