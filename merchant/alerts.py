"""Open alerts of a merchant, of every kind, in one shape (the `alerts_list` command reads these).

An alert source is a function `(merchant) -> Iterable[Alert]`; add one to SOURCES to list a new kind (low
stock would give `erp_product_id` instead of `order_no`)."""
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from merchant.models import FollowUpStatus
from merchant.selectors.followups import followups_for


@dataclass(frozen=True)
class Alert:
    kind: str
    since: datetime
    reason: str
    order_no: str = ""
    erp_product_id: str = ""
    # Kind-specific facts (carrier, tracking number, assignee...): text, numbers or aware datetimes.
    details: dict = field(default_factory=dict)


def followup_alerts(merchant) -> Iterator[Alert]:
    for f in followups_for(merchant, status=FollowUpStatus.OPEN).iterator(chunk_size=500):
        yield Alert(kind=f.kind, since=f.since, reason=f.reason(), order_no=f.order.order_no, details={
            "carrier": f.carrier_name, "tracking_no": f.tracking_no, "last_node": f.last_node_text,
            "last_node_at": f.last_node_at, "opened_at": f.opened_at, "moved_at": f.moved_at,
            "assignee": f.assignee.username if f.assignee else "",
        })


SOURCES: tuple[Callable[[object], Iterable[Alert]], ...] = (followup_alerts,)


def open_alerts(merchant, kinds: set[str] | None = None) -> Iterator[Alert]:
    """Every open alert of the merchant (of the given kinds), source by source."""
    for source in SOURCES:
        for alert in source(merchant):
            if not kinds or alert.kind in kinds:
                yield alert
