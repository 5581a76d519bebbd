"""The one seam between the platform-neutral pipelines (order pulls, the message channel, pushes, reconciliation,
the breaker) and a marketplace. Each platform lives in its own folder (`sync/marketplaces/<platform>/`: signing,
client, errors, mapping, sandbox) and offers one `Marketplace` subclass; the pipelines only ever call what is
declared here, so a platform's quirks stay in its folder.

Every method makes its calls through the connection's budget and the one recording path (sync.calls), retries
what is retryable, and raises the typed errors of sync.errors: Retryable (and RateLimited with the seconds of a
ban), Permanent (SessionExpired when the seller must authorize again), BusinessError for one refused item,
MalformedAnswer for an answer that breaks the protocol (nothing from it is used).
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from .records import Refund, Trade

# How the marketplace tells us about changes besides polling: we ask for queued messages (TOP's TMC), or it
# POSTs them to our callback URL (Douyin's push), which stores them for the pipeline to handle.
CHANNEL_POLL = "poll"
CHANNEL_PUSH = "push"


@dataclass(frozen=True)
class WindowPolicy:
    """How order and refund lists may be asked for.

    max_window: the longest modified-time window one incremental list call may span.
    settle: the safety lag; a window ends this long before now, so records still being written are left for
        the next window instead of being half-read.
    overlap: how far each incremental run looks back before its checkpoint, for records indexed late.
    page_size: records per list page (the platform's maximum).
    backwards: pages read last first (TOP: a record modified while we page can only shift towards pages
        already read, so it is seen twice rather than missed); False reads first to last.
    full_days: how far back the first pull goes (the platform keeps orders listed this long).
    refund_window: the span of one refund list call.
    """

    max_window: timedelta
    settle: timedelta
    overlap: timedelta
    page_size: int
    backwards: bool
    full_days: int = 90
    refund_window: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class StockWrites:
    """What a stock write can do. full: sets the quantity (a repeat is harmless); delta: adds to it (needs an
    idempotency key so a repeat changes nothing). batch: SKUs per call. by_code: the platform finds the SKU by our
    product code, so no item mapping is needed before the first push."""

    full: bool
    delta: bool
    batch: int
    idempotent: bool
    by_code: bool


@dataclass
class OrdersPage:
    trades: list[Trade]
    total: int | None  # None: the platform does not say (then has_next decides)
    has_next: bool


@dataclass
class StampsPage:
    """Order numbers and their modified times, for the overlap check and reconciliation."""

    stamps: dict[str, datetime]
    total: int | None
    has_next: bool


@dataclass
class RefundsPage:
    refunds: list[Refund]
    total: int | None
    has_next: bool


@dataclass(frozen=True)
class Message:
    """One change message: its id on the platform, its topic in the platform's words, the order it names ("" when
    none) and whether it is one we act on (an order or refund change)."""

    message_id: int | None  # None: the message came without a usable id (it is skipped)
    topic: str
    order_no: str
    acts: bool


class Marketplace(ABC):
    """A marketplace as the pipelines see it, bound to one connection."""

    platform: str
    windows: WindowPolicy
    stock_writes: StockWrites
    channel: str
    # The platform's calendar: full pulls and reconciliation go by its days.
    tz: tzinfo
    # Pipelines this platform offers beyond orders, refunds and stock: "price", "listing", "logistics",
    # "items", "stock_check", "trace", "reconcile".
    supports: frozenset[str]

    def __init__(self, connection, *, client):
        self.connection = connection
        self.client = client

    @property
    def counter(self):
        return self.client.counter

    # Orders and refunds. Pages are numbered from 1 here whatever the platform counts from.

    @abstractmethod
    def orders_page(self, *, by: str, start: datetime, end: datetime, page: int) -> OrdersPage:
        """Orders with `by` ("modified" or "created") in [start, end] (both inclusive, whole seconds)."""

    @abstractmethod
    def order_stamps(self, *, by: str, start: datetime, end: datetime, page: int) -> StampsPage:
        """Like orders_page but only each order's number and modified time (cheaper where the platform allows)."""

    @abstractmethod
    def order_detail(self, order_no: str) -> Trade:
        """One order with every field; BusinessError when the platform does not know it."""

    @abstractmethod
    def refunds_page(self, *, start: datetime, end: datetime, page: int) -> RefundsPage:
        """Refunds / after-sales modified in [start, end]."""

    # The message channel.

    def messages_permit(self) -> None:
        """Ask the platform to send this shop's messages to us (a poll channel's one-off set-up)."""

    def messages_take(self, quantity: int) -> list[Message]:
        """Messages waiting on the platform (poll channel)."""
        raise NotImplementedError(f"{self.platform} pushes its messages")

    def messages_confirm(self, message_ids: list[int]) -> None:
        """Tell the platform these are handled (poll channel), so they are not delivered again."""
        raise NotImplementedError(f"{self.platform} pushes its messages")

    # Writes. `work` is sync.pipelines.push's Pass: the adapter makes its calls through work.call (which keeps the run's
    # lease) and settles every row with work.ack(row, value) / work.fail(row, error, permanent=) /
    # work.skip(row) / work.defer(row).

    @abstractmethod
    def push(self, work, kind: str, rows: list) -> None:
        """Write the value in force of each outbox row of `kind` (stock, price, listing, logistics)."""

    # Items, stock read-back and carrier traces, where `supports` names them.

    def items_all(self, *, onsale: bool, on_page=None) -> list:
        """Every item header (records.ItemHeader) on sale, or in the warehouse; on_page() after each page."""
        raise NotImplementedError(f"{self.platform} does not list items")

    def item_get(self, item_id: int, *, onsale: bool = True):
        """One item with its SKUs (records.Item); BusinessError when the shop no longer has it."""
        raise NotImplementedError(f"{self.platform} does not read items")

    def trace_of(self, order_no: str):
        raise NotImplementedError(f"{self.platform} does not read carrier traces")

    @abstractmethod
    def test_call(self) -> str:
        """One cheap call that proves the credentials work ("test the connection"); returns the platform's
        request id for it ("" when it gives none)."""
