"""Pull the ERP bridge's change feeds (SPEC S9) and apply them under the sync switches (SPEC M11).

Per feed, pages are read from the stored cursor; each page is applied with inbound_apply (applied, held
while a module or SKU switch is off, or refused per item) and its next_cursor saved in the same
transaction, so a crash anywhere re-reads the page that was not saved and nothing is skipped. Applying is
idempotent (upserts by key), so a page read twice changes nothing the second time.

An item the hub refuses is recorded in the run's errors and passed over: one bad record must not hold
the feed back forever. Products go first, and prices, batches and stock wait until the products feed is
read to its end, since those items name products a products page may create.
"""
from dataclasses import asdict, dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from merchant.models import AuditSource, Product
from merchant.permissions import Actor
from merchant.services.bulk import PLANS
from merchant.services.customers import unmatched_erp_customers_record
from merchant.services.inbound import HELD, INVALID, OK, inbound_apply
from merchant.services.inbound_fields import item_from_json
from sync.erp.client import PAGE_LIMIT, ErpClient
from sync.erp.errors import CursorExpired, UnsupportedKind
from sync.models import Connection, SyncModule
from sync.runs import run_of

from .models import ErpCursor, ErpKind

# Our item kind (merchant.services.inbound) for each feed.
ITEM_KIND = {"products": "products", "prices": "prices", "batches": "batches", "stock": "stock",
             "customers": "customer_codes"}
NEEDS_PRODUCTS = ("prices", "batches", "stock")
# Pages per feed per run: a long backlog is read over several runs, and the lease is renewed per page.
MAX_PAGES = 50
NO_USCC_MATCH = "no platform customer with this USCC"


@dataclass
class Tally:
    pages: int = 0
    fetched: int = 0
    applied: int = 0  # ok, changed or not
    changed: int = 0
    held: int = 0
    invalid: int = 0
    superseded: int = 0  # a later item of the same page named the same record
    caught_up: bool = False  # the feed was read to its end (has_more false)
    skipped: str = ""  # why the feed was not read this run


def cursor_of(connection: Connection, kind: str) -> str:
    return ErpCursor.objects.filter(connection=connection, kind=kind).values_list("cursor", flat=True).first() or ""


def _cursor_save(run, kind: str, cursor: str) -> None:
    """Store the cursor (inside the page's transaction); raises LeaseTaken if this run lost its lease, which
    rolls the page back: another run has taken over the feed."""
    run.renew()
    ErpCursor.objects.update_or_create(connection=run.connection, kind=kind, defaults={"cursor": cursor})


def latest_per_record(kind: str, plan, items: list) -> tuple[list, int]:
    """The items to apply: of several naming one record, the last (the log is in order, so the newest).
    Returns (items, how many were dropped)."""
    last = {}
    for item in items:
        if item.errors:
            continue
        keys = [plan.key_of(item)] + [(name, item.values[name]) for name in plan.unique_fields if name in item.values]
        for key in keys:
            if key is not None:
                last[key] = item.ref
    kept = []
    for item in items:
        keys = [] if item.errors else [plan.key_of(item)] + [
            (name, item.values[name]) for name in plan.unique_fields if name in item.values]
        if all(last.get(key, item.ref) == item.ref for key in keys if key is not None):
            kept.append(item)
    return kept, len(items) - len(kept)


def _item_label(kind: str, raw) -> str:
    """How a refused item is named in the run's errors."""
    if not isinstance(raw, dict):
        return kind
    if kind == "customers":
        name = raw.get("erp_customer_code") or raw.get("uscc") or raw.get("platform_customer_id")
    elif kind == "batches":
        name = f"{raw.get('erp_product_id')}/{raw.get('batch_no')}"
    elif kind == "prices":
        name = "/".join(str(raw[k]) for k in ("erp_product_id", "price_type", "group_code") if raw.get(k))
    else:
        name = raw.get("erp_product_id")
    return f"{kind} {name}" if name else kind


def _products_missing(merchant, raw_items: list) -> set[str]:
    keys = {raw.get("erp_product_id") for raw in raw_items if isinstance(raw, dict)}
    keys = {key for key in keys if isinstance(key, str) and key}
    if not keys:
        return set()
    return keys - set(Product.objects.filter(merchant=merchant, erp_product_id__in=keys)
                      .values_list("erp_product_id", flat=True))


class Puller:
    """One run's pull over the feeds; `tallies` is what it did per feed."""

    def __init__(self, run, client: ErpClient, *, limit: int = PAGE_LIMIT):
        self.run, self.client, self.limit = run, client, limit
        self.merchant = run.connection.merchant
        self.actor = Actor.system(source=AuditSource.ERP)
        self.reason = _("ERP bridge %(name)s") % {"name": run.connection.name}
        self.tallies: dict[str, Tally] = {}
        self.products_rechecked = False

    def pull(self, kinds=ErpKind.values) -> dict[str, Tally]:
        for kind in [k for k in ErpKind.values if k in kinds]:
            tally = self.tallies.setdefault(kind, Tally())
            if kind in NEEDS_PRODUCTS and "products" in self.tallies and not self._products_ready():
                tally.skipped = "products feed not read to its end yet"
                continue
            self.read_feed(kind, tally)
        return self.tallies

    def _products_ready(self) -> bool:
        products = self.tallies["products"]
        return products.caught_up or products.skipped == "unsupported"

    def read_feed(self, kind: str, tally: Tally) -> None:
        """Apply pages of one feed until it is caught up or MAX_PAGES were read."""
        restarted = False
        for _page in range(MAX_PAGES):
            cursor = cursor_of(self.run.connection, kind)
            try:
                page = self.client.changes_with_retry(kind, cursor=cursor, limit=self.limit)
            except UnsupportedKind:
                tally.skipped = "unsupported"
                return
            except CursorExpired as exc:
                if restarted:
                    raise
                # The bridge purged what came after our cursor: read its whole feed again (applying is
                # idempotent), and say so, since changes made meanwhile and purged are lost to us.
                self.run.error(_("%(kind)s: %(error)s; reading the feed again from its start")
                               % {"kind": kind, "error": exc})
                with transaction.atomic():
                    _cursor_save(self.run, kind, "")
                restarted = True
                continue
            self.apply_page(kind, page, tally, cursor)
            if not page.has_more:
                tally.caught_up = True
                return

    def apply_page(self, kind: str, page, tally: Tally, cursor: str) -> None:
        if not page.items and page.next_cursor == cursor:
            self.run.renew()
            return
        if kind in NEEDS_PRODUCTS and not self.products_rechecked and _products_missing(self.merchant, page.items):
            # A product created in the ERP after our products pass: read the products feed again first.
            self.products_rechecked = True
            self.read_feed("products", self.tallies.setdefault("products", Tally()))
        item_kind = ITEM_KIND[kind]
        items = [item_from_json(item_kind, ref, raw) for ref, raw in enumerate(page.items)]
        items, superseded = latest_per_record(item_kind, PLANS[item_kind](self.merchant), items)
        with transaction.atomic():
            results = inbound_apply(merchant=self.merchant, kind=item_kind, items=items, actor=self.actor,
                                    reason=self.reason) if items else []
            if kind == "customers":
                self._customers_unmatched(page.items, results)
            _cursor_save(self.run, kind, page.next_cursor)
        tally.pages += 1
        tally.fetched += len(page.items)
        tally.superseded += superseded
        for result in results:
            if result.status == OK:
                tally.applied += 1
                tally.changed += result.changed
            elif result.status == HELD:
                tally.held += 1
            else:
                tally.invalid += 1
                self._refused(kind, page.items[result.ref], result.errors)
        self.run.record.windows += 1
        self.run.record.fetched += len(page.items)
        self.run.record.updated += sum(1 for r in results if r.status == OK and r.changed)
        self.run.record.unchanged += sum(1 for r in results if r.status == OK and not r.changed)

    def _refused(self, kind: str, raw, errors: dict) -> None:
        label = _item_label(kind, raw)
        details = "; ".join(f"{name}: {message}" if name else str(message) for name, message in errors.items())
        self.run.error(f"{label}: {details}")

    def _customers_unmatched(self, raw_items: list, results: list) -> None:
        """As the Open API does (SPEC M9): list the customers whose USCC matches nobody yet."""
        unmatched = [raw_items[r.ref] for r in results
                     if r.status == INVALID and str(r.errors.get("uscc", "")) == _(NO_USCC_MATCH)]
        # Only USCCs the ERP sent count (as in the Open API): an item by platform customer id names none.
        matched = [raw_items[r.ref].get("uscc") for r in results if r.status != INVALID]
        unmatched_erp_customers_record(merchant=self.merchant, unmatched=unmatched, matched_usccs=matched,
                                       source=AuditSource.ERP)


def erp_pull(puller: Puller, *, kinds=ErpKind.values) -> dict[str, Tally]:
    """Pull the feeds; when every feed read is caught up, the run's checkpoint moves to the run's start
    (what the connection page shows as "synced up to")."""
    tallies = puller.pull(kinds)
    if all(t.caught_up or t.skipped == "unsupported" for t in tallies.values()):
        puller.run.move_checkpoint(puller.run.record.started_at)
    return tallies


def erp_pull_sync(connection: Connection, *, trigger: str = "schedule", kinds=ErpKind.values,
                  limit: int = PAGE_LIMIT, client_factory=ErpClient) -> dict:
    """One ERP pull run (the job, the CLI and "sync now" call this): the run's summary, with per feed what
    was applied, held, refused and superseded (also when a permanent error stopped the run part way)."""
    puller = None
    with run_of(connection, SyncModule.ERP_PULL, mode="incremental", trigger=trigger) as run:
        puller = Puller(run, client_factory(connection, counter=run.counter), limit=limit)
        erp_pull(puller, kinds=kinds)
    summary = run.summary()
    tallies = puller.tallies if puller else {}
    summary["kinds"] = {kind: asdict(tally) for kind, tally in tallies.items()}
    for name in ("applied", "held", "invalid"):
        summary[name] = sum(getattr(t, name) for t in tallies.values())
    return summary
