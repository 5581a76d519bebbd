"""The push pipeline (SPEC S4), the same for every marketplace: stock, price, listing and logistics from the outbox.

Each pass claims the due rows of one kind (sync.outbox) and hands them to the marketplace adapter
(sync.marketplaces.base.Marketplace.push), which writes the value in force *now* (what the connection's stock rule
offers of the sellable stock, the default price, the listing, the order's carrier and tracking number) and settles
every row through the Pass: acknowledged with the value, retried later after a failed call, given up with the
reason (a business error, or too many attempts), skipped when the product is not on that marketplace, or put off
without counting an attempt. A run that fails gives its unsettled rows back.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import Merchant

from ..errors import Permanent
from ..models import Outbox, OutboxKind
from ..outbox import MAX_ATTEMPTS, outbox_acked, outbox_claim, outbox_failed, outbox_release, outbox_skipped

CLAIM = {OutboxKind.STOCK: 100}
CLAIM_DEFAULT = 40
MAX_PASSES = 25
# Lookups cost one call per product; a run makes at most this many (the rest wait a minute, uncounted), so
# a first push of a large catalog leaves room in the connection's call budget for the order pulls.
LOOKUPS_PER_RUN = 30
LOOKUP_DEFERRED = timedelta(minutes=1)


@dataclass
class Tally:
    pushed: int = 0
    failed: int = 0
    # Rows of products that are not on the marketplace: settled without a call, not a failure.
    skipped: int = 0
    # Rows given up on (a business error, or the last attempt), "target: reason", for the notification.
    gave_up: list = field(default_factory=list)


class Pass:
    """One claimed set of rows being pushed: settles each row once and counts the outcomes."""

    def __init__(self, run, market, rows: list[Outbox], now, lookups: list[int]):
        self.run, self.market, self.now = run, market, now
        self.lookups = lookups  # [left in this run], shared by its passes
        self.open = {row.pk: row for row in rows}
        self.tally = Tally()
        self._merchant = None

    @property
    def merchant(self) -> Merchant:
        """The merchant's settings as they are now (safety stock, expiry exclusion), read once per pass."""
        if self._merchant is None:
            self._merchant = Merchant.objects.get(pk=self.run.connection.merchant_id)
        return self._merchant

    def ack(self, row: Outbox, value) -> None:
        if self.open.pop(row.pk, None) is not None and outbox_acked(row, str(value), now=self.now):
            self.tally.pushed += 1
            self.run.record.updated += 1

    def fail(self, row: Outbox, error: str, *, permanent: bool) -> None:
        if self.open.pop(row.pk, None) is None:
            return
        outbox_failed(row, error, now=self.now, permanent=permanent)
        self.tally.failed += 1
        self.run.error(f"{_target(row)}: {error}")
        if permanent or row.attempts >= MAX_ATTEMPTS:
            self.tally.gave_up.append(f"{_target(row)}: {error}")

    def skip(self, row: Outbox) -> None:
        if self.open.pop(row.pk, None) is not None and outbox_skipped(row, now=self.now):
            self.tally.skipped += 1

    def defer(self, row: Outbox) -> None:
        """Leave the row for a later run without counting an attempt (it was not tried)."""
        if self.open.pop(row.pk, None) is not None:
            outbox_release([row], "", now=self.now, count_attempt=False, due=self.now + LOOKUP_DEFERRED)

    def call(self, method: str, params: dict | None = None, read=None):
        """One call of the platform's client (retried as it retries)."""
        answer = self.market.client.call_with_retry(method, params, read=read)
        # Calls may wait on the budget or a ban: keep the (connection, module) lease while working.
        self.run.renew()
        return answer


def _target(row: Outbox) -> str:
    if row.product_id:
        return row.product.erp_product_id
    return _("order %(no)s") % {"no": row.order.order_no}


def outbox_push(run, market, kind: str, *, now=None, tally: Tally | None = None) -> Tally:
    """Push every due row of `kind` for the run's connection, pass after pass (a change made during a push
    is due again at once), until none is due. A run that fails gives its unsettled rows back: due after a
    backoff, or at once when the connection itself was refused (it is stopped until the owner fixes it).
    Counts go into `tally` as they happen, so a caller sees them even when the run ends in an error."""
    total = tally if tally is not None else Tally()
    try:
        _push_passes(run, market, kind, now, total)
    finally:
        if total.gave_up:
            _notify_gave_up(run.connection, kind, total.gave_up)
    return total


def _notify_gave_up(connection, kind: str, gave_up: list[str]) -> None:
    """One notification per run and kind: what was given up on, the first few named."""
    from merchant.models import NotificationEvent
    from merchant.services.notifications import notify

    lines = gave_up[:10] + ([_("…and %(count)d more.") % {"count": len(gave_up) - 10}] if len(gave_up) > 10 else [])
    notify(merchant=connection.merchant_id, event=NotificationEvent.PUSH_FAILED,
           subject_key=f"push:{connection.pk}:{kind}",
           title=_("%(kind)s push to %(name)s failed for %(count)d items") % {
               "kind": OutboxKind(kind).label, "name": connection.name, "count": len(gave_up)},
           body="\n".join(lines), url=connection.get_absolute_url())


def _push_passes(run, market, kind: str, now, total: Tally) -> None:
    lookups = [LOOKUPS_PER_RUN]
    for _pass in range(MAX_PASSES):
        moment = now or timezone.now()
        rows = outbox_claim(connection_id=run.connection.pk, kind=kind, now=moment,
                            limit=CLAIM.get(kind, CLAIM_DEFAULT))
        if not rows:
            break
        run.record.fetched += len(rows)
        work = Pass(run, market, rows, moment, lookups)
        try:
            market.push(work, kind, rows)
        except Permanent as exc:
            outbox_release(work.open.values(), str(exc), now=moment, count_attempt=False)
            raise
        except BaseException as exc:
            outbox_release(work.open.values(), str(exc) or type(exc).__name__, now=moment)
            raise
        finally:
            total.pushed += work.tally.pushed
            total.failed += work.tally.failed
            total.skipped += work.tally.skipped
            total.gave_up += work.tally.gave_up
        # A pusher settles every row it claimed; one it skipped by mistake must not wait for IN_FLIGHT.
        outbox_release(work.open.values(), "not pushed", now=moment)
