"""Shipping orders (SPEC M10, M14): the rules a shipment must meet, in one place, and the one write path.

The order page and the Open API (order_shipment_add, order_logistics_enter in services/orders.py) and the
logistics import all ship through orders_ship: one order at a time or thousands in one transaction. The
import's check uses the same ShippingLedger without writing, so its preview and its apply judge rows by
exactly the rules the order page applies.
"""
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.changes import orders_changed
from merchant.models import AuditEntry, Carrier, Order, OrderItem, OrderStatus, Shipment, ShipmentItem
from merchant.permissions import Action, Actor

from .audit import apply_changes, audit_entries
from .order_attention import order_attention_touch

S = OrderStatus
SHIPPABLE = {S.AWAITING_SHIPMENT, S.PARTIALLY_SHIPPED}
LOCK_BATCH = 1000
WRITE_BATCH = 1000


@dataclass
class ShipmentLine:
    order_item: OrderItem
    quantity: int
    batch_no: str = ""
    production_date: date | None = None
    expiry_date: date | None = None


@dataclass
class ShipmentRequest:
    """One shipment of one order. lines=None ships everything of the order not yet shipped (logistics entry)."""

    order: Order
    carrier: Carrier | None
    tracking_no: str
    lines: list[ShipmentLine] | None = None
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class Problem:
    """Why a shipment cannot be recorded. field: tracking_no, carrier, status, lines (none, or nothing left),
    line (an item of another order), quantity or expiry_date; line: the index of the offending one in the
    request's lines, None for the shipment as a whole."""

    field: str
    message: str
    line: int | None = None


@dataclass
class Check:
    problems: list[Problem] = field(default_factory=list)
    lines: list[ShipmentLine] = field(default_factory=list)  # what the shipment ships
    status: str = ""  # the order's status after it

    @property
    def ok(self) -> bool:
        return not self.problems


class ShipmentRefused(ValidationError):
    """A shipment breaks a shipping rule; nothing was written. `index` is its place in the list given to
    orders_ship, `problems` every reason found. As a ValidationError it reads like the order page's: the
    carrier and tracking number as field errors, the rest as one message."""

    def __init__(self, index: int, problems: list[Problem]):
        first = problems[0]
        super().__init__({first.field: first.message} if first.field in ("tracking_no", "carrier") else first.message)
        self.index, self.problems = index, problems


class ShippingLedger:
    """What is left to ship of some orders, and the shipping rules checked against it. A shipment that passes is
    subtracted (take), so several shipments of one order, in one request or one file, are judged together.

    The caller loads the orders (locked when the shipments are to be written); their items and the quantities
    already shipped are loaded here in two queries however many orders are added."""

    def __init__(self):
        self.orders: dict[int, Order] = {}
        self.status: dict[int, str] = {}  # order id -> its status after the shipments taken so far
        self.lines: dict[int, dict[int, OrderItem]] = {}  # order id -> line number -> item
        self.left: dict[int, int] = {}  # item id -> quantity neither shipped nor taken
        self.by_pk: dict[int, OrderItem] = {}

    def add(self, orders) -> None:
        new = [order for order in orders if order.pk not in self.orders]
        if not new:
            return
        ids = [order.pk for order in new]
        for order in new:
            self.orders[order.pk], self.status[order.pk], self.lines[order.pk] = order, order.status, {}
        shipped = dict(ShipmentItem.objects.filter(order_item__order__any=ids).order_by()
                       .values_list("order_item").annotate(total=Sum("quantity")).values_list("order_item", "total"))
        for item in OrderItem.objects.filter(order__any=ids).order_by("order_id", "line_no"):
            self.lines[item.order_id][item.line_no] = item
            self.by_pk[item.pk] = item
            self.left[item.pk] = item.quantity - shipped.get(item.pk, 0)

    def item(self, order: Order, line_no: int) -> OrderItem | None:
        return self.lines[order.pk].get(line_no)

    def left_of(self, item: OrderItem) -> int:
        return self.left.get(item.pk, 0)

    def check(self, request: ShipmentRequest) -> Check:
        """The request judged against what is left now (nothing is taken)."""
        problems = []
        if not (request.tracking_no or "").strip():
            problems.append(Problem("tracking_no", _("Enter the tracking number.")))
        carrier = request.carrier
        if carrier is None:
            problems.append(Problem("carrier", _("Choose a carrier from the code list.")))
        elif not carrier.is_active:
            problems.append(Problem("carrier", _("%(carrier)s is no longer in the carrier code list: choose another.")
                                    % {"carrier": carrier}))
        if problems:
            return Check(problems)
        order = request.order
        status = self.status[order.pk]
        if status not in SHIPPABLE:
            return Check([Problem("status", _("An order that is %(status)s cannot be shipped.")
                                  % {"status": OrderStatus(status).label})])
        given = None if request.lines is None else [(i, line) for i, line in enumerate(request.lines) if line.quantity]
        if given is not None and not given:
            return Check([Problem("lines", _("Enter a quantity for at least one item."))])
        if given is None:
            lines = [ShipmentLine(order_item=item, quantity=self.left[item.pk])
                     for item in self.lines[order.pk].values() if self.left[item.pk] > 0]
            if not lines:
                return Check([Problem("lines", _("Every item of this order is already shipped."))])
            return Check(lines=lines, status=S.SHIPPED)
        # One item may be split over several lines (one per batch): their sum must fit what is left.
        requested: dict[int, int] = {}
        for index, line in given:
            item = line.order_item
            if item.order_id != order.pk or item.pk not in self.left:
                problems.append(Problem("line", _("An item does not belong to this order."), index))
                continue
            if line.quantity < 0:
                problems.append(Problem("quantity", _("Line %(line)s: quantity cannot be negative.")
                                        % {"line": item.line_no}, index))
                continue
            requested[item.pk] = requested.get(item.pk, 0) + line.quantity
            if requested[item.pk] > self.left[item.pk]:
                problems.append(Problem("quantity", _("Line %(line)s: %(qty)s is more than the %(left)s not yet "
                                                      "shipped.") % {"line": item.line_no, "qty": requested[item.pk],
                                                                     "left": self.left[item.pk]}, index))
            if line.production_date and line.expiry_date and line.expiry_date <= line.production_date:
                problems.append(Problem("expiry_date", _("Line %(line)s: the expiry date must be after the production "
                                                         "date.") % {"line": item.line_no}, index))
        if problems:
            return Check(problems)
        left = sum(self.left[item.pk] for item in self.lines[order.pk].values()) - sum(requested.values())
        return Check(lines=[line for _index, line in given], status=S.SHIPPED if left == 0 else S.PARTIALLY_SHIPPED)

    def take(self, request: ShipmentRequest) -> Check:
        """check(), and when it passes, subtract what the shipment ships."""
        result = self.check(request)
        if result.ok:
            for line in result.lines:
                self.left[line.order_item.pk] -= line.quantity
            self.status[request.order.pk] = result.status
        return result


def orders_ship(*, shipments: list[ShipmentRequest], actor: Actor, reason: str = "") -> list[Shipment]:
    """Record shipments in one transaction; several may be of one order. Each is checked against its order as it
    is under lock, after the shipments before it in the list; the order becomes partially shipped or shipped,
    with the carrier, tracking number and time of its last shipment. Each shipment is audited, the items show
    the batch numbers shipped, and the outbox tells the marketplace (stock, and logistics once shipped). A few
    queries per thousand shipments. Returns the shipments, in the order given.

    Raises ShipmentRefused for the first shipment that breaks a rule (nothing is written), PermissionDenied."""
    from .bulk.copy import insert_many, update_many  # here: the bulk package's logistics plan imports this module

    actor.require(Action.EDIT)
    if not shipments:
        return []
    user = actor.user if getattr(actor.user, "pk", None) else None
    now = timezone.now()
    with transaction.atomic():
        ids = sorted({request.order.pk for request in shipments})
        locked: dict[int, Order] = {}
        # In primary key order, as every writer of several orders locks them: two bulk writers queue, never deadlock.
        for start in range(0, len(ids), LOCK_BATCH):
            query = Order.objects.select_for_update().filter(pk__any=ids[start:start + LOCK_BATCH]).order_by("pk")
            locked.update((order.pk, order) for order in query)
        ledger = ShippingLedger()
        ledger.add(locked.values())
        taken = []
        for index, request in enumerate(shipments):
            request = replace(request, order=locked[request.order.pk], tracking_no=(request.tracking_no or "").strip())
            result = ledger.take(request)
            if not result.ok:
                raise ShipmentRefused(index, result.problems)
            taken.append((request, result))
        created = [Shipment(order=request.order, carrier=request.carrier, tracking_no=request.tracking_no,
                            shipped_at=request.shipped_at or now, created_by=user) for request, _result in taken]
        Shipment.objects.bulk_create(created, batch_size=WRITE_BATCH)
        ShipmentItem.objects.bulk_create([
            ShipmentItem(shipment=shipment, order_item=ledger.by_pk[line.order_item.pk], quantity=line.quantity,
                         batch_no=line.batch_no, production_date=line.production_date, expiry_date=line.expiry_date)
            for shipment, (_request, result) in zip(created, taken) for line in result.lines
        ], batch_size=WRITE_BATCH)
        update_many(OrderItem, _batches_for_buyer(ledger, taken), ["batch_no"])
        entries, orders = [], {}
        for shipment, (request, result) in zip(created, taken):
            order = request.order
            changes = apply_changes(order, {"status": result.status, "carrier": request.carrier,
                                            "tracking_no": request.tracking_no, "shipped_at": shipment.shipped_at})
            entries += audit_entries(merchant_id=order.merchant_id, entity="order", entity_id=order.pk,
                                     changes=changes, actor=actor, reason=reason)
            order.modified_at = now
            orders[order.pk] = order
        update_many(Order, orders.values(), ["status", "carrier", "tracking_no", "shipped_at", "modified_at"])
        for entry in entries:
            entry.at = now  # auto_now_add is not applied by COPY
        insert_many(AuditEntry, entries)
        orders_changed(orders=orders.values())
        for merchant_id in {order.merchant_id for order in orders.values()}:
            order_attention_touch(merchant_id=merchant_id,
                                  order_ids=[pk for pk, order in orders.items() if order.merchant_id == merchant_id])
    return created


def _batches_for_buyer(ledger: ShippingLedger, taken) -> list[OrderItem]:
    """The items whose shown batch numbers gain one: the buyer sees the batches received. The ledger's items were
    read under the orders' lock (the callers' may be stale), and two lines of one item add to the same row."""
    changed = {}
    for _request, result in taken:
        for line in result.lines:
            if not line.batch_no:
                continue
            item = ledger.by_pk[line.order_item.pk]
            known = [b for b in item.batch_no.split(",") if b]
            if line.batch_no not in known:
                item.batch_no = ",".join([*known, line.batch_no])[:200]
                changed[item.pk] = item
    return list(changed.values())
