"""Stalled logistics follow-up (issue 15): carrier traces read from the sandbox over HTTP, the backoff and the
call budget, one follow-up per stall, and `sync_run ID trace`."""
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from merchant.models import AuditEntry, AuditSource, FollowUp, FollowUpStatus, Order, OrderSource
from merchant.permissions import Actor
from merchant.services.orders import order_logistics_enter
from sync.marketplaces.top.trace import trace_search
from sync.errors import BusinessError
from sync.models import Connection, TraceWatch
from sync.pipelines import trace_sync
from sync.ratelimit import CallBudget
from sync.marketplaces.top.sandbox import marketplace
from sync.marketplaces.top.sandbox.models import SandboxCall, SandboxTrade
from sync.pipelines.trace import BASE_INTERVAL, MAX_INTERVAL, next_read_at
from tests.factories import CarrierFactory

from .conftest import ago, fast_client
from .test_outbound import push

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english_pages")]

SYSTEM = Actor.system(AuditSource.ERP)
NOW = timezone.now()


def numbers_of(profile: str, count: int) -> list[str]:
    """Tracking numbers whose sandbox trace follows `profile` (the sandbox chooses it from the number)."""
    found, n = [], 0
    while len(found) < count:
        candidate = f"SF{1000000000000 + n}"
        if marketplace.trace_profile(candidate) == profile:
            found.append(candidate)
        n += 1
    return found


def ship(top, shop, tracking_numbers, *, pushed=True) -> dict[str, Order]:
    """One marketplace order per tracking number, pulled over HTTP, shipped here and (unless not `pushed`) sent
    to the sandbox."""
    from sync.pipelines import orders_sync

    for _ in tracking_numbers:
        marketplace.trade_create(shop, lines=[("ERP-1", 1)], created=ago(minutes=30))
    orders_sync(top, full=True, since=ago(days=1), client_factory=fast_client)
    orders = list(Order.objects.filter(source=OrderSource.MARKETPLACE, connection=top).order_by("pk"))
    assert len(orders) == len(tracking_numbers)
    carrier = CarrierFactory(code="SF", name="SF Express")
    for order, number in zip(orders, tracking_numbers):
        order_logistics_enter(order=order, carrier=carrier, tracking_no=number, actor=SYSTEM)
    if pushed:
        assert push(top, "logistics")["pushed"] == len(orders)
    return {o.tracking_no: o for o in Order.objects.filter(pk__in=[o.pk for o in orders])}


def age(hours: float) -> None:
    """Move every shipment `hours` into the past, here and on the sandbox (what waiting that long would do)."""
    delta = timedelta(hours=hours)
    SandboxTrade.objects.exclude(consign_time=None).update(consign_time=F("consign_time") - delta)
    Order.objects.exclude(shipped_at=None).update(shipped_at=F("shipped_at") - delta)
    TraceWatch.objects.update(due_at=F("due_at") - delta)
    TraceWatch.objects.exclude(last_node_at=None).update(last_node_at=F("last_node_at") - delta,
                                                         checked_at=F("checked_at") - delta)
    FollowUp.objects.update(since=F("since") - delta, opened_at=F("opened_at") - delta)
    FollowUp.objects.exclude(last_node_at=None).update(last_node_at=F("last_node_at") - delta)


def all_due() -> None:
    TraceWatch.objects.update(due_at=timezone.now() - timedelta(seconds=1))


def minute_passed(top) -> None:
    """The calls of the setup (pull, pushes) leave the budget's one-minute window."""
    from sync import redis as sync_redis

    sync_redis.connection().delete(f"mh:budget:{top.pk}")


def trace_calls(shop) -> int:
    return SandboxCall.objects.filter(shop=shop, method="taobao.logistics.trace.search").count()


def run(top) -> dict:
    return trace_sync(top, trigger="cli", client_factory=fast_client)


# The rule: backoff

def test_a_moving_trace_is_read_again_after_the_base_interval():
    assert next_read_at(now=NOW, quiet_checks=0, last_progress_at=NOW, stall_hours=72) == NOW + BASE_INTERVAL


def test_backoff_doubles_each_time_the_trace_did_not_move():
    waits = [next_read_at(now=NOW, quiet_checks=q, last_progress_at=NOW - timedelta(days=10), stall_hours=72) - NOW
             for q in range(4)]
    assert waits == [BASE_INTERVAL, BASE_INTERVAL * 2, BASE_INTERVAL * 4, BASE_INTERVAL * 8]


def test_backoff_is_capped_at_the_longest_interval():
    assert next_read_at(now=NOW, quiet_checks=40, last_progress_at=NOW - timedelta(days=10),
                        stall_hours=72) == NOW + MAX_INTERVAL


def test_a_quiet_trace_is_read_again_when_it_would_cross_the_limit():
    last = NOW - timedelta(hours=70)
    assert next_read_at(now=NOW, quiet_checks=3, last_progress_at=last, stall_hours=72) == \
        last + timedelta(hours=72, minutes=1)


def test_the_limit_is_the_merchants_setting():
    last = NOW - timedelta(hours=20)
    assert next_read_at(now=NOW, quiet_checks=5, last_progress_at=last, stall_hours=24) == \
        last + timedelta(hours=24, minutes=1)


# The sandbox's traces over HTTP

def test_the_sandbox_answers_trace_search_in_tops_shape(top, shop):
    moving, = numbers_of(marketplace.TRACE_MOVES, 1)
    order = ship(top, shop, [moving])[moving]
    age(20)
    from sync.marketplaces.top.client import TopClient

    trace = trace_search(TopClient(top), int(order.order_no))

    assert trace.out_sid == moving and trace.company_name == "顺丰速运" and trace.tid == order.order_no
    assert [n.action for n in trace.nodes][:2] == ["GOT", "TRANSPORT"] and len(trace.nodes) == 4
    assert not trace.delivered and trace.last.text
    age(50)
    trace = trace_search(TopClient(top), int(order.order_no))
    assert trace.delivered and trace.status == "对方已签收"


def test_the_sandbox_refuses_the_trace_of_an_unknown_trade(top):
    from sync.marketplaces.top.client import TopClient

    with pytest.raises(BusinessError):
        trace_search(TopClient(top), 123)


# One pass against the sandbox

def test_every_trace_stalled_past_the_limit_opens_exactly_one_follow_up_and_moving_ones_none(top, shop):
    stalled = numbers_of(marketplace.TRACE_STALLS, 4) + numbers_of(marketplace.TRACE_RESUMES, 2)
    moving = numbers_of(marketplace.TRACE_MOVES, 4)
    orders = ship(top, shop, stalled + moving)
    age(96)  # the stalled ones' last node is 87 hours old; the moving ones were signed for at 67 hours

    summary = run(top)

    assert summary["outcome"] == "ok" and summary["read"] == 10 and summary["opened"] == 6
    assert summary["delivered"] == 4
    followups = FollowUp.objects.filter(status=FollowUpStatus.OPEN)
    assert sorted(f.tracking_no for f in followups) == sorted(stalled)
    follow_up = followups.get(tracking_no=stalled[0])
    assert follow_up.order == orders[stalled[0]] and follow_up.carrier_name == "顺丰速运"
    shipped_at = Order.objects.get(pk=follow_up.order_id).shipped_at
    assert abs(follow_up.last_node_at - (shipped_at + timedelta(hours=9))) < timedelta(seconds=2)
    assert follow_up.since == follow_up.last_node_at and follow_up.stall_hours == 72
    assert AuditEntry.objects.filter(entity="followup", entity_id=follow_up.pk, field="status",
                                     new_value="open", source=AuditSource.MARKETPLACE).exists()
    assert Order.objects.get(pk=follow_up.order_id).attention > 0

    all_due()
    again = run(top)

    assert again["read"] == 6 and again["opened"] == 0  # the signed-for ones are no longer read
    assert FollowUp.objects.count() == 6


def test_parcels_within_the_limit_open_nothing_and_are_read_again_at_the_limit(top, shop):
    stalls, = numbers_of(marketplace.TRACE_STALLS, 1)
    moving, = numbers_of(marketplace.TRACE_MOVES, 1)
    orders = ship(top, shop, [stalls, moving])
    age(40)

    summary = run(top)

    assert summary["read"] == 2 and summary["opened"] == 0 and not FollowUp.objects.exists()
    busy = TraceWatch.objects.get(order=orders[moving])
    assert busy.due_at - busy.checked_at == BASE_INTERVAL

    age(40)  # 80 hours: the quiet one's last node (at 9 hours) is 71 hours old
    assert run(top)["opened"] == 0
    quiet = TraceWatch.objects.get(order=orders[stalls])
    assert quiet.quiet_checks == 1 and quiet.due_at == quiet.last_node_at + timedelta(hours=72, minutes=1)
    assert not FollowUp.objects.exists()


def test_the_merchants_limit_decides_when_a_parcel_is_stalled(top, shop, merchant_a, owner):
    from merchant.services.order_views import order_exception_clocks_set

    stalls, = numbers_of(marketplace.TRACE_STALLS, 1)
    order = ship(top, shop, [stalls])[stalls]
    age(40)  # the last node (at 9 hours) is 31 hours old: within 72 hours, past 24
    assert run(top)["opened"] == 0
    order_exception_clocks_set(merchant=merchant_a, take_hours=4, ship_hours=48, stall_hours=24,
                               actor=Actor.for_user(owner))
    all_due()
    assert run(top)["opened"] == 1
    assert FollowUp.objects.get(order=order).stall_hours == 24


def test_a_trace_that_did_not_move_is_read_later_each_time(top, shop):
    stalls, = numbers_of(marketplace.TRACE_STALLS, 1)
    order = ship(top, shop, [stalls])[stalls]
    age(100)
    run(top)  # first read: the nodes are new to us
    waits = []
    for _ in range(3):
        all_due()
        run(top)
        watch = TraceWatch.objects.get(order=order)
        waits.append(watch.due_at - watch.checked_at)
    assert waits == [BASE_INTERVAL * 2, BASE_INTERVAL * 4, BASE_INTERVAL * 8]
    assert FollowUp.objects.filter(order=order).count() == 1


def test_a_trace_that_moves_again_is_shown_as_moved_and_the_follow_up_stays_open(top, shop):
    resumes, = numbers_of(marketplace.TRACE_RESUMES, 1)
    order = ship(top, shop, [resumes])[resumes]
    age(96)
    run(top)
    follow_up = FollowUp.objects.get(order=order)
    assert follow_up.moved_at is None

    age(12)  # the parcel moves on at 105 hours
    all_due()
    run(top)

    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpStatus.OPEN and follow_up.moved_at is not None
    assert follow_up.last_node_at > follow_up.since and "到达" in follow_up.last_node_text
    assert FollowUp.objects.filter(order=order).count() == 1


def test_a_resolved_stall_is_not_opened_again_by_the_next_pass(top, shop, owner):
    from merchant.services.followups import followup_resolve

    stalls, = numbers_of(marketplace.TRACE_STALLS, 1)
    order = ship(top, shop, [stalls])[stalls]
    age(96)
    run(top)
    followup_resolve(followup=FollowUp.objects.get(order=order), note="carrier found it", actor=Actor.for_user(owner))
    all_due()
    assert run(top)["opened"] == 0
    assert FollowUp.objects.filter(order=order).count() == 1


def test_a_trade_without_a_trace_is_asked_for_later_each_time_and_opens_nothing(top, shop):
    number, = numbers_of(marketplace.TRACE_STALLS, 1)
    order = ship(top, shop, [number], pushed=False)[number]  # the marketplace never heard of the parcel
    age(96)
    waits = []
    for _ in range(3):
        summary = run(top)
        assert summary["outcome"] == "ok" and summary["failed"] == 1 and summary["read"] == 0
        watch = TraceWatch.objects.get(order=order)
        waits.append(watch.due_at - watch.checked_at)
        all_due()
    assert waits == [BASE_INTERVAL, BASE_INTERVAL * 2, BASE_INTERVAL * 4]
    assert "isv.logistics-trace-not-exist" in watch.last_error and not FollowUp.objects.exists()


# The call budget

def test_a_pass_takes_at_most_its_share_of_the_budget_and_leaves_the_rest_due(top, shop):
    numbers = numbers_of(marketplace.TRACE_STALLS, 5)
    ship(top, shop, numbers)
    age(96)
    Connection.objects.filter(pk=top.pk).update(calls_per_minute=4)
    top.refresh_from_db()
    minute_passed(top)
    before = trace_calls(shop)

    summary = run(top)

    assert trace_calls(shop) - before == 2 and summary["read"] == 2 and summary["left_due"] == 3
    assert summary["opened"] == 2 and FollowUp.objects.count() == 2


def test_a_pass_stops_when_the_shared_call_budget_is_spent(top, shop):
    numbers = numbers_of(marketplace.TRACE_STALLS, 3)
    ship(top, shop, numbers)
    age(96)
    Connection.objects.filter(pk=top.pk).update(calls_per_minute=10)
    top.refresh_from_db()
    minute_passed(top)
    budget = CallBudget(top.pk, 10)
    spent = 0
    while budget.try_acquire() == 0:  # other jobs used this minute's calls
        spent += 1
    assert spent == 10
    before = trace_calls(shop)

    summary = run(top)

    assert summary["outcome"] == "ok" and summary["budget_spent"] is True
    assert trace_calls(shop) == before and summary["read"] == 0 and summary["left_due"] == 3
    assert not FollowUp.objects.exists()


# The CLI

def test_sync_run_trace_runs_one_pass_and_prints_one_json_line(top, shop):
    stalls, = numbers_of(marketplace.TRACE_STALLS, 1)
    ship(top, shop, [stalls])
    age(96)
    out = StringIO()

    call_command("sync_run", str(top.pk), "trace", stdout=out)

    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["module"] == "trace" and summary["outcome"] == "ok" and summary["opened"] == 1
