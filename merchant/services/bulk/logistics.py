"""Bulk shipping from a spreadsheet (SPEC M14): each row is one order in one parcel (tracking number).

This plan only reads the rows: it finds the order by its number among the merchant's, the carrier by code or
name, the order line by its number, and groups the rows of one order and one tracking number into one parcel.
Whether a row may ship is decided by the shipping rules (services/shipping.py, the ledger the order page ships
through), row after row, so the rows of one order are judged together. Applying ships every parcel through
orders_ship, in the import's transaction.
"""
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils.translation import gettext as _, ngettext

from merchant.models import Carrier, Order, OrderItem, OrderSource, OrderStatus, Shipment

from ..shipping import SHIPPABLE, ShipmentLine, ShipmentRefused, ShipmentRequest, ShippingLedger, orders_ship
from .common import CHANGED, INVALID, UNCHANGED, Item, Outcome, invalid, require

# Where a shipping rule's problem shows in the row (a quantity problem on the line when the row gives none).
PROBLEM_COLUMNS = {"tracking_no": "tracking_no", "carrier": "carrier", "status": "order_no", "line": "line_no",
                   "expiry_date": "line_no"}


@dataclass
class Parcel:
    order: Order
    carrier: Carrier
    rows: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    whole: bool = False  # one row without a line: everything of the order not yet shipped


class LogisticsPlan:
    dup_field = "tracking_no"
    unique_fields = ()
    required = ("order_no", "carrier", "tracking_no")

    def __init__(self, merchant):
        self.merchant = merchant
        self.ledger = ShippingLedger()
        self.by_no: dict[str, list[Order]] = {}
        self.recorded: dict[int, dict[str, int]] = defaultdict(dict)  # order id -> tracking no -> carrier id
        self.carriers = None
        self.parcels: dict[tuple, Parcel] = {}  # (order id, tracking no) -> the valid rows' parcel
        self.rows_of_item = defaultdict(list)  # item id -> rows of this file that ship some of it
        self.emptied_by: dict[int, int] = {}  # order id -> the row of this file that ships the last of it
        self.pending: dict[tuple, Parcel] = {}  # what apply() was given, shipped by finish()

    def key_of(self, item: Item):
        values = item.values
        if "order_no" in values and "tracking_no" in values:
            return (values["order_no"], values["tracking_no"], values.get("line_no"), values.get("batch_no", ""))
        return None

    # Reading

    def _load(self, items: list[Item], lock: bool) -> None:
        numbers = {item.values["order_no"] for item in items if "order_no" in item.values} - set(self.by_no)
        if not numbers:
            return
        query = Order.objects.filter(merchant=self.merchant, order_no__any=sorted(numbers)).order_by("pk")
        if lock:
            query = query.select_for_update()
        orders = list(query)
        for number in numbers:
            self.by_no[number] = []
        for order in orders:
            self.by_no[order.order_no].append(order)
        self.ledger.add(orders)
        for order_id, tracking_no, carrier_id in Shipment.objects.filter(
                order__any=[order.pk for order in orders]).values_list("order_id", "tracking_no", "carrier_id"):
            self.recorded[order_id][tracking_no] = carrier_id

    def _carrier(self, text: str) -> tuple[Carrier | None, str]:
        """The carrier a cell names by code or by name (any case), and the reason when it names none or several.
        Inactive carriers are found too: the shipping rules refuse them with their own reason."""
        if self.carriers is None:
            self.carriers = {"pk": {}, "code": {}, "name": defaultdict(list)}
            for carrier in Carrier.objects.order_by("code"):
                self.carriers["pk"][carrier.pk] = carrier
                self.carriers["code"][_folded(carrier.code)] = carrier
                self.carriers["name"][_folded(carrier.name)].append(carrier)
        wanted = _folded(text)
        carrier = self.carriers["code"].get(wanted)
        if carrier is not None:
            return carrier, ""
        named = self.carriers["name"].get(wanted, [])
        if len(named) == 1:
            return named[0], ""
        if named:
            return None, _("several carriers have this name: give the code (%(codes)s)") % {
                "codes": ", ".join(c.code for c in named)}
        return None, _("not in the carrier code list (the template's Carriers sheet lists them)")

    def plan(self, items: list[Item], lock: bool = False) -> list[Outcome]:
        self._load(items, lock)
        return [self._plan_one(item) for item in items]

    def _plan_one(self, item: Item) -> Outcome:
        values = item.values
        key = values.get("order_no", "")
        errors = dict(item.errors)
        require(item, errors, self.required, _("required"))
        order = None
        if "order_no" in values:
            found = self.by_no.get(key, [])
            if not found:
                errors["order_no"] = _("no order of yours has this number")
            elif len(found) > 1:
                errors["order_no"] = _("ambiguous: an own-storefront order and a marketplace order both have this "
                                       "number")
            else:
                order = found[0]
        carrier = None
        if "carrier" in values:
            carrier, reason = self._carrier(values["carrier"])
            if reason:
                errors["carrier"] = reason
        line_no, order_item = values.get("line_no"), None
        if line_no is None:
            for name in ("quantity", "batch_no"):
                if name in values:
                    errors[name] = _("needs a line number in the Line column")
        elif order is not None:
            order_item = self.ledger.item(order, line_no)
            if order_item is None:
                errors["line_no"] = _("this order has no line %(line)d") % {"line": line_no}
            elif "quantity" not in values and self.ledger.left_of(order_item) <= 0 \
                    and self.ledger.status[order.pk] in SHIPPABLE:
                errors["line_no"] = self._nothing_left(order_item)
        if errors:
            return invalid(item, key, errors)
        tracking_no = values["tracking_no"]
        recorded = self.recorded[order.pk].get(tracking_no)
        if recorded is not None:
            # Imported before (or entered on the order page): importing a file again ships nothing twice.
            if recorded == carrier.pk:
                return Outcome(item.ref, key, UNCHANGED)
            return invalid(item, key, {"tracking_no": _("already recorded for this order with another carrier")})
        parcel = self.parcels.get((order.pk, tracking_no))
        if parcel is not None and parcel.carrier.pk != carrier.pk:
            return invalid(item, key, {"carrier": _("row %(row)d gives %(carrier)s for this tracking number") % {
                "row": parcel.rows[0], "carrier": parcel.carrier}})
        lines = None
        if order_item is not None:
            quantity = values.get("quantity", self.ledger.left_of(order_item))
            lines = [ShipmentLine(order_item=order_item, quantity=quantity, batch_no=values.get("batch_no", ""))]
        before = self.ledger.status[order.pk]
        result = self.ledger.take(ShipmentRequest(order=order, carrier=carrier, tracking_no=tracking_no, lines=lines))
        if not result.ok:
            return invalid(item, key, self._errors(result.problems, order, values))
        parcel = self.parcels.setdefault((order.pk, tracking_no), Parcel(order, carrier))
        parcel.rows.append(item.ref)
        for line in result.lines:
            self.rows_of_item[line.order_item.pk].append(item.ref)
        if result.status == OrderStatus.SHIPPED:
            self.emptied_by[order.pk] = item.ref
        changes = {
            "carrier": (self.carriers["pk"].get(order.carrier_id, ""), carrier),
            "tracking_no": (order.tracking_no, tracking_no),
            "shipment": ("", "; ".join(map(_line_text, result.lines))),
            "status": (OrderStatus(before).label, OrderStatus(result.status).label),
        }
        return Outcome(item.ref, key, CHANGED, changes={name: (str(old), str(new)) for name, (old, new) in
                                                         changes.items()},
                       payload=(order, carrier, tracking_no, lines is None, result.lines))

    def _nothing_left(self, order_item: OrderItem) -> str:
        rows = self.rows_of_item.get(order_item.pk)
        if rows:
            return ngettext("nothing of line %(line)d is left: row %(rows)s of this file ships the rest",
                            "nothing of line %(line)d is left: rows %(rows)s of this file ship the rest",
                            len(rows)) % {"line": order_item.line_no, "rows": _rows(rows)}
        return _("every item of line %(line)d is already shipped") % {"line": order_item.line_no}

    def _errors(self, problems, order: Order, values: dict) -> dict:
        """The shipping rules' reasons, each in the column it is about, with what earlier rows of the file did."""
        errors = {}
        for problem in problems:
            column = PROBLEM_COLUMNS.get(problem.field)
            if column is None:  # quantity, or nothing left to ship
                column = "quantity" if "quantity" in values else "line_no" if "line_no" in values else "order_no"
            message = problem.message
            if problem.field in ("status", "lines") and order.pk in self.emptied_by:
                message = _("row %(row)d of this file already ships the rest of this order") % {
                    "row": self.emptied_by[order.pk]}
            elif problem.field == "quantity" and "line_no" in values:
                rows = self.rows_of_item.get(self.ledger.item(order, values["line_no"]).pk)
                if rows:
                    message += " " + ngettext("(Row %(rows)s of this file ships some of this line.)",
                                              "(Rows %(rows)s of this file ship some of this line.)",
                                              len(rows)) % {"rows": _rows(rows)}
            errors.setdefault(column, message)
        return errors

    def notes(self) -> list[str]:
        """What the preview says beyond the rows: how many parcels and orders, and the marketplace's share."""
        if not self.parcels:
            return []
        orders = {parcel.order.pk: parcel.order for parcel in self.parcels.values()}
        marketplace = sum(1 for order in orders.values() if order.source == OrderSource.MARKETPLACE)
        parcels = len(self.parcels)
        text = _("The valid rows record %(parcels)s for %(orders)s.") % {
            "parcels": ngettext("%(count)d parcel", "%(count)d parcels", parcels) % {"count": parcels},
            "orders": ngettext("%(count)d order", "%(count)d orders", len(orders)) % {"count": len(orders)}}
        if marketplace:
            text += " " + ngettext("%(count)d of them is a marketplace order: the marketplace is told its logistics.",
                                   "%(count)d of them are marketplace orders: the marketplace is told their "
                                   "logistics.", marketplace) % {"count": marketplace}
        return [text]

    # Writing

    def apply(self, outcomes: list[Outcome], actor, reason: str = "") -> int:
        """Collect the rows into parcels; finish() ships them all at once (a parcel's rows may be far apart)."""
        count = 0
        for outcome in outcomes:
            if outcome.action != CHANGED:
                continue
            order, carrier, tracking_no, whole, lines = outcome.payload
            parcel = self.pending.setdefault((order.pk, tracking_no), Parcel(order, carrier))
            parcel.rows.append(outcome.ref)
            parcel.lines.extend(lines)
            parcel.whole = whole and len(parcel.rows) == 1
            count += 1
        return count

    def finish(self, actor, reason: str = "") -> list[Outcome]:
        """Ship every parcel through orders_ship. Returns the rows refused (nothing is written then): never, as
        the rows were checked under the same locks by the same rules, unless that changes."""
        parcels = list(self.pending.values())
        requests = [ShipmentRequest(order=parcel.order, carrier=parcel.carrier, tracking_no=tracking_no,
                                    lines=None if parcel.whole else parcel.lines)
                    for (_order, tracking_no), parcel in self.pending.items()]
        try:
            orders_ship(shipments=requests, actor=actor, reason=reason)
        except ShipmentRefused as refused:
            parcel = parcels[refused.index]
            return [Outcome(parcel.rows[0], parcel.order.order_no, INVALID,
                            errors={"": "; ".join(problem.message for problem in refused.problems)})]
        return []


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(row) for row in rows[:5])
    return shown + (", …" if len(rows) > 5 else "")


def _line_text(line: ShipmentLine) -> str:
    text = _("line %(line)d %(item)s × %(quantity)d") % {
        "line": line.order_item.line_no, "item": line.order_item.item_name, "quantity": line.quantity}
    if line.batch_no:
        text += " " + _("(batch %(batch)s)") % {"batch": line.batch_no}
    return text
