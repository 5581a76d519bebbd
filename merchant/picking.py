"""First-expiry-first-out (FEFO) picking, as pure functions over plain values (no queries).

The pick list and the delivery notes of one selection of orders share one allocation (`allocate`), so the
batch a delivery note suggests for a line is the batch the pick list has the picker take for that order.
"""
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class BatchStock:
    """Stock of one batch of a product. A product without batch records has one with batch_no "" and no
    expiry date, holding the product's stock."""

    batch_no: str
    expiry_date: date | None
    quantity: int


@dataclass(frozen=True)
class Allocation:
    """Part of a line's quantity taken from one batch; batch_no "" for a product without batch records.
    A shortage allocation (shortage=True, no batch) is the part no usable batch could cover."""

    batch_no: str
    expiry_date: date | None
    quantity: int
    shortage: bool = False


@dataclass(frozen=True)
class LineNeed:
    """One order line's quantity still to ship, with what the pick list shows of its product.

    product_id is None when the line's ERP product id matches none of the merchant's products.
    """

    item_id: int
    order_no: str
    product_id: int | None
    erp_product_id: str
    name: str
    spec: str
    unit: str
    quantity: int


def usable_batches(batches: list[BatchStock], today: date) -> list[BatchStock]:
    """The batches that can be picked from, earliest expiry first (then by batch number): those with stock
    whose expiry date is not before today. A batch without an expiry date (no batch records) comes last."""
    usable = [b for b in batches if b.quantity > 0 and (b.expiry_date is None or b.expiry_date >= today)]
    return sorted(usable, key=lambda b: (b.expiry_date is None, b.expiry_date or date.max, b.batch_no))


class FefoPool:
    """The usable stock of each product, handed out first-expiry-first-out as lines ask for it: what one
    line takes is no longer there for the next."""

    def __init__(self, stock_by_product: dict[int, list[BatchStock]], today: date):
        self._left = {
            product_id: [[b.batch_no, b.expiry_date, b.quantity] for b in usable_batches(batches, today)]
            for product_id, batches in stock_by_product.items()
        }

    def take(self, product_id: int, quantity: int) -> list[Allocation]:
        """Allocations covering quantity from the product's batches, earliest expiry first, split over as
        many batches as it needs; what they cannot cover is a last allocation with shortage=True."""
        allocations = []
        for batch in self._left.get(product_id, []):
            if quantity <= 0:
                break
            taken = min(batch[2], quantity)
            if taken:
                batch[2] -= taken
                quantity -= taken
                allocations.append(Allocation(batch_no=batch[0], expiry_date=batch[1], quantity=taken))
        if quantity > 0:
            allocations.append(Allocation(batch_no="", expiry_date=None, quantity=quantity, shortage=True))
        return allocations


def fefo_allocate(quantity: int, batches: list[BatchStock], today: date) -> list[Allocation]:
    """Allocations of quantity over one product's batches, first to expire first (see FefoPool.take)."""
    return FefoPool({0: batches}, today).take(0, quantity)


def allocate(needs: list[LineNeed], stock_by_product: dict[int, list[BatchStock]], today: date
             ) -> dict[int, list[Allocation]]:
    """Order item id -> its allocations, the needs served in the order given (the caller puts the orders
    paid first first). Lines of unknown products get none."""
    pool = FefoPool(stock_by_product, today)
    return {need.item_id: pool.take(need.product_id, need.quantity)
            for need in needs if need.product_id is not None and need.quantity > 0}


@dataclass
class PickLine:
    """One line of the pick list: a product's quantity to take from one batch (or its shortage), and the
    orders it is for with their quantities, in allocation order."""

    erp_product_id: str
    name: str
    spec: str
    unit: str
    batch_no: str
    expiry_date: date | None
    quantity: int = 0
    shortage: bool = False
    orders: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class UnknownLine:
    """Lines whose ERP product id matches no product, summed by that id and the name the order gave."""

    erp_product_id: str
    name: str
    spec: str
    quantity: int = 0
    orders: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class PickList:
    lines: list[PickLine]
    unknown: list[UnknownLine]

    @property
    def pick_quantity(self) -> int:
        """Units to take from the shelves (shortages and unknown products left out)."""
        return sum(line.quantity for line in self.lines if not line.shortage)

    @property
    def shortage_quantity(self) -> int:
        return sum(line.quantity for line in self.lines if line.shortage)

    @property
    def unknown_quantity(self) -> int:
        return sum(line.quantity for line in self.unknown)

    @property
    def product_count(self) -> int:
        return len({line.erp_product_id for line in self.lines})

    @property
    def order_count(self) -> int:
        """Orders with anything on the pick list, unknown products included."""
        return len({no for line in [*self.lines, *self.unknown] for no, _qty in line.orders})


def _add_order(orders: list[tuple[str, int]], order_no: str, quantity: int) -> None:
    if orders and orders[-1][0] == order_no:
        orders[-1] = (order_no, orders[-1][1] + quantity)
    else:
        orders.append((order_no, quantity))


def pick_list(needs: list[LineNeed], allocations: dict[int, list[Allocation]]) -> PickList:
    """The needs summed by product and batch (shortages on their own line per product), sorted by ERP product
    id, then earliest expiry, shortage last; unknown products summed apart, sorted by ERP product id."""
    lines: dict[tuple, PickLine] = {}
    unknown: dict[tuple, UnknownLine] = {}
    for need in needs:
        if need.quantity <= 0:
            continue
        if need.product_id is None:
            key = (need.erp_product_id, need.name, need.spec)
            line = unknown.setdefault(key, UnknownLine(erp_product_id=need.erp_product_id, name=need.name,
                                                       spec=need.spec))
            line.quantity += need.quantity
            _add_order(line.orders, need.order_no, need.quantity)
            continue
        for part in allocations.get(need.item_id, []):
            key = (need.product_id, part.shortage, part.batch_no)
            line = lines.setdefault(key, PickLine(
                erp_product_id=need.erp_product_id, name=need.name, spec=need.spec, unit=need.unit,
                batch_no=part.batch_no, expiry_date=part.expiry_date, shortage=part.shortage))
            line.quantity += part.quantity
            _add_order(line.orders, need.order_no, part.quantity)
    return PickList(
        lines=sorted(lines.values(), key=lambda ln: (
            ln.erp_product_id, ln.shortage, ln.expiry_date is None, ln.expiry_date or date.max, ln.batch_no)),
        unknown=sorted(unknown.values(), key=lambda ln: (ln.erp_product_id, ln.name, ln.spec)),
    )
