"""The ERP's order query (SPEC A2): GET /api/v1/orders, and the carrier code list it ships with.

Pages are keyset pages (`cursor`), oldest first unless `order=newest`. Page numbers would be wrong here:
the query marks what it returns as taken, so with `sync_status=not_taken` every page shrinks the set the
next page number counts in, and an offset would skip orders. A cursor names the last order seen instead.
"""
import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.http import JsonResponse
from django.utils.translation import gettext as _

from merchant.models import AuditSource, Carrier, Order, OrderSource, OrderStatus
from merchant.permissions import Actor
from merchant.selectors.presale import presale_withheld
from merchant.services.order_exchange import orders_mark_taken, orders_marking_paused_reason

from .auth import ApiError
from .order_fields import parse_moment
from .order_json import orders_json, orders_with_parts
from .order_takes import TAKE_KEEP, order_take_find, order_take_record
from .views import api_view

MAX_LIMIT, DEFAULT_LIMIT = 100, 50
SYNC_STATUSES = {"taken": True, "not_taken": False}
ORDERINGS = ("oldest", "newest")
PARAMETERS = ("created_from", "created_to", "status", "sync_status", "order_no", "source", "limit", "cursor",
              "order", "mark")


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, "bad_parameter", _("%(name)s: %(message)s") % {"name": name, "message": message})


@dataclass
class OrdersQuery:
    created_from: datetime | None = None
    created_to: datetime | None = None
    statuses: tuple[str, ...] = ()
    taken: bool | None = None
    order_no: str = ""
    source: str = ""
    limit: int = DEFAULT_LIMIT
    after: tuple[datetime, int] | None = None  # (created_at, id) of the last order of the previous page
    newest_first: bool = False
    mark: bool = True

    @classmethod
    def from_params(cls, params) -> "OrdersQuery":
        """The query the parameters ask for; raises ApiError (400) naming the parameter that is wrong."""
        values = {}
        for name in params:
            given = params.getlist(name)
            if len(given) > 1:
                raise _bad(name, _("give it once (several statuses go comma-separated in one status)"))
            if "\x00" in given[0]:
                raise _bad(name, _("contains a NUL character"))
            values[name] = given[0].strip()
        query = cls()
        for name in ("created_from", "created_to"):
            if values.get(name):
                try:
                    setattr(query, name, parse_moment(values[name]))
                except ValueError as error:
                    raise _bad(name, str(error)) from None
        if query.created_from and query.created_to and query.created_from >= query.created_to:
            raise _bad("created_to", _("must be after created_from"))
        if values.get("status"):
            query.statuses = tuple(dict.fromkeys(s.strip() for s in values["status"].split(",")))
            if not set(query.statuses) <= set(OrderStatus.values):
                raise _bad("status", _("expected one or more (comma-separated) of: %(values)s") % {
                    "values": ", ".join(OrderStatus.values)})
        query.taken = _choice(values, "sync_status", SYNC_STATUSES)
        query.order_no = values.get("order_no", "")
        if len(query.order_no) > 64:
            raise _bad("order_no", _("longer than 64 characters"))
        query.source = values.get("source", "")
        if query.source and query.source not in OrderSource.values:
            raise _bad("source", _("expected one of: %(values)s") % {"values": ", ".join(OrderSource.values)})
        if values.get("limit"):
            if not re.fullmatch(r"[0-9]{1,3}", values["limit"]) or not 1 <= int(values["limit"]) <= MAX_LIMIT:
                raise _bad("limit", _("expected a whole number from 1 to %(max)s") % {"max": MAX_LIMIT})
            query.limit = int(values["limit"])
        query.newest_first = _choice(values, "order", {"oldest": False, "newest": True}) or False
        mark = _choice(values, "mark", {"true": True, "false": False})
        query.mark = True if mark is None else mark
        if values.get("cursor"):
            query.after = _cursor_read(values["cursor"], query.newest_first)
        return query

    def page(self, merchant) -> tuple[list[Order], str | None]:
        """One page of the merchant's orders and the cursor of the next page (None on the last)."""
        # A presale whose balance is unpaid is not the ERP's yet (SPEC S10): never offered, whatever the filters,
        # until its balance is paid (or its deposit, when the merchant hands presales over at deposit).
        qs = Order.objects.filter(merchant=merchant).exclude(presale_withheld(merchant))
        if self.created_from:
            qs = qs.filter(created_at__gte=self.created_from)
        if self.created_to:
            qs = qs.filter(created_at__lt=self.created_to)
        if self.statuses:
            qs = qs.filter(status__in=self.statuses)
        if self.taken is not None:
            qs = qs.filter(taken_by_erp=self.taken)
        if self.order_no:
            qs = qs.filter(order_no=self.order_no)
        if self.source:
            qs = qs.filter(source=self.source)
        if self.after:
            created_at, pk = self.after
            beyond = "lt" if self.newest_first else "gt"
            qs = qs.filter(Q(**{f"created_at__{beyond}": created_at})
                           | Q(created_at=created_at, **{f"pk__{beyond}": pk}))
        qs = qs.order_by(*(("-created_at", "-pk") if self.newest_first else ("created_at", "pk")))
        orders = list(orders_with_parts(qs)[: self.limit + 1])
        if len(orders) <= self.limit:
            return orders, None
        orders = orders[: self.limit]
        return orders, _cursor_write(orders[-1], self.newest_first)


def _choice(values: dict, name: str, choices: dict):
    if not values.get(name):
        return None
    if values[name] not in choices:
        raise _bad(name, _("expected one of: %(values)s") % {"values": ", ".join(choices)})
    return choices[values[name]]


def _cursor_write(order: Order, newest_first: bool) -> str:
    text = json.dumps([ORDERINGS[newest_first], order.created_at.isoformat(), order.pk])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _cursor_read(cursor: str, newest_first: bool) -> tuple[datetime, int]:
    try:
        ordering, created_at, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = parse_moment(created_at)
        if not isinstance(pk, int) or isinstance(pk, bool) or not 0 <= pk < 2**63 or ordering not in ORDERINGS:
            raise ValueError
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise _bad("cursor", _("not a cursor this API gave out (pass next_cursor as it came)")) from None
    if ordering != ORDERINGS[newest_first]:
        raise _bad("cursor", _("this cursor pages %(order)s first; ask with order=%(order)s") % {"order": ordering})
    return created_at, pk


@api_view(("GET",), params=PARAMETERS)
def orders_query(request):
    """The merchant's orders, filtered and paged; the ones returned are marked as taken by the ERP.

    A GET that writes, deliberately: the source's contract is that the orders an ERP receives count as
    taken (sellable stock stops holding their quantity) unless it asks `mark=false`. They are not marked
    while the merchant's "orders" auto-sync is off; the answer then says so (`marked`: false, `reason`).
    Every marking answer carries a `take_id`: an ERP that lost the answer fetches the same page again with
    GET /api/v1/orders/takes/{take_id} (or asks again without `sync_status=not_taken`, or by `order_no`:
    marking twice changes nothing).
    """
    query = OrdersQuery.from_params(request.GET)
    credential = request.api_credential
    merchant = credential.merchant
    with transaction.atomic():
        orders, next_cursor = query.page(merchant)
        reason = _("mark=false was asked") if not query.mark else orders_marking_paused_reason(merchant)
        newly_marked, take = 0, None
        if reason is None:
            newly_marked = orders_mark_taken(merchant=merchant, orders=orders, reason=f"Open API {credential.key}",
                                             actor=Actor.system(source=AuditSource.API))
            take = order_take_record(credential=credential, orders=orders, next_cursor=next_cursor)
        answer = {"orders": orders_json(merchant, orders), "next_cursor": next_cursor, "marked": reason is None,
                  "newly_marked": newly_marked, "reason": reason, "take_id": take.public_id if take else None}
    return JsonResponse(answer)


@api_view(("GET",))
def order_take(request, take_id: str):
    """A marking query's page again, by the `take_id` it answered with: the same orders in the same order (as
    they are now), with the same `next_cursor`, so an ERP that lost the answer carries on where it was. Marks
    nothing (the orders were marked by the first answer)."""
    take = order_take_find(merchant=request.api_credential.merchant, public_id=take_id)
    if take is None:
        raise ApiError(404, "unknown_take", _("no take with this id (takes are kept for %(days)s days)") % {
            "days": TAKE_KEEP.days})
    merchant = take.merchant
    found = {order.pk: order for order in orders_with_parts(Order.objects.filter(merchant=merchant,
                                                                                 pk__in=take.order_ids))}
    orders = [found[pk] for pk in take.order_ids if pk in found]
    return JsonResponse({"orders": orders_json(merchant, orders), "next_cursor": take.next_cursor or None,
                         "marked": True, "newly_marked": 0, "reason": None, "take_id": take.public_id})


@api_view(("GET",))
def carriers(request):
    """The platform's carrier code list: the codes the logistics and shipment uploads accept."""
    rows = Carrier.objects.filter(is_active=True).order_by("code").values("code", "name")
    return JsonResponse({"carriers": list(rows)})
