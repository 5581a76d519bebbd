"""What every marketplace adapter hands the platform-neutral pipelines: orders, their lines and refunds in our
terms (statuses already mapped, money as Decimal yuan, aware UTC datetimes). Adapters build these at their
boundary and refuse a malformed answer whole (MalformedAnswer names the field) before anything is written."""
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from merchant.models import PresaleStage


@dataclass
class Line:
    external_id: str
    erp_product_id: str
    item_name: str
    spec: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    refund_status: str


@dataclass
class Trade:
    order_no: str
    status: str
    platform_status: str
    is_presale: bool
    presale_status: str
    created_at: datetime
    modified_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    completed_at: datetime | None
    buyer_nick: str
    has_buyer_message: bool
    buyer_message: str | None  # None: not in this answer (list calls never carry it)
    goods_amount: Decimal
    shipping_fee: Decimal
    discount_amount: Decimal
    total_amount: Decimal
    paid_amount: Decimal
    receiver_name: str
    receiver_phone: str
    receiver_province: str
    receiver_city: str
    receiver_district: str
    receiver_address: str
    lines: list[Line] = field(default_factory=list)
    # When the balance of a deposit-paid presale falls due; None: not in this answer (list calls never carry it).
    presale_balance_due_at: datetime | None = None

    @property
    def balance_due_wanted(self) -> bool:
        """A deposit-paid presale whose balance deadline only trade.fullinfo.get can tell."""
        return self.is_presale and self.presale_status == PresaleStage.DEPOSIT_PAID and not self.presale_balance_due_at


@dataclass
class Refund:
    refund_id: str
    order_no: str
    line_id: str
    status: str
    platform_status: str
    modified_at: datetime


# A shop's items and SKUs, for matching them to our products (sync.pipelines.items): num_iid is the platform's item
# (product) id, outer_id the merchant's code on it.

@dataclass(frozen=True)
class ItemHeader:
    num_iid: int
    title: str
    outer_id: str
    modified: datetime | None
    onsale: bool


@dataclass(frozen=True)
class Sku:
    sku_id: int
    outer_id: str
    properties: str
    name: str
    quantity: int | None
    price: Decimal | None


@dataclass(frozen=True)
class Item:
    header: ItemHeader
    skus: list[Sku]


# A parcel's carrier trace (sync.pipelines.trace).

@dataclass(frozen=True)
class TraceNode:
    at: datetime
    text: str
    action: str


@dataclass(frozen=True)
class Trace:
    tid: str
    out_sid: str
    company_name: str
    status: str
    nodes: tuple[TraceNode, ...]
    # Signed for, as the platform tells it (each platform has its own signal for it).
    delivered: bool

    @property
    def last(self) -> TraceNode | None:
        return max(self.nodes, key=lambda n: n.at) if self.nodes else None
