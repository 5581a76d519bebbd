"""The orders workbench's reads (SPEC M14): tab counts equal the rows each tab lists, the one search box finds
an order by every field it names, and each exception rule catches its orders and only those."""
from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from merchant.models import ErpCustomerCode, OrderFlag, OrderSource, OrderStatus, RefundStatus, Shipment, TrackingEntry
from merchant.permissions import Actor
from merchant.selectors.orders import (
    EXCEPTION_RULES, TABS, exception_orders, exception_orders_now, exception_reasons, search_filter,
)
from merchant.services.followups import followup_stalled_open
from merchant.services.order_attention import order_attention_refresh
from merchant.services.orders import order_status_change
from merchant.views.order_list import filtered_orders, tab_counts
from sync.erp.models import ErpOrderRefusal
from sync.models import Outbox, TraceWatch

from .factories import ConnectionFactory, CustomerFactory, OrderFactory

S = OrderStatus


def ago(**kw):
    return timezone.now() - timedelta(**kw)


@pytest.fixture
def mixed(merchant_a, merchant_b):
    """Orders of merchant A in every tab, some in several, and one of merchant B that must never count."""
    made = [
        OrderFactory(merchant=merchant_a, status=S.PENDING_PAYMENT, paid_at=None),
        OrderFactory(merchant=merchant_a, status=S.AWAITING_SHIPMENT),
        OrderFactory(merchant=merchant_a, status=S.PARTIALLY_SHIPPED),
        OrderFactory(merchant=merchant_a, status=S.SHIPPED, shipped_at=ago(hours=1)),
        OrderFactory(merchant=merchant_a, status=S.COMPLETED),
        OrderFactory(merchant=merchant_a, status=S.CANCELLED),
        OrderFactory(merchant=merchant_a, status=S.AWAITING_SHIPMENT, refund_status=RefundStatus.REQUESTED),
        OrderFactory(merchant=merchant_a, status=S.SHIPPED, refund_status=RefundStatus.REQUESTED,
                     shipped_at=ago(hours=2)),
        OrderFactory(merchant=merchant_a, status=S.AWAITING_SHIPMENT, has_unmapped_lines=True),
    ]
    OrderFactory(merchant=merchant_b, status=S.AWAITING_SHIPMENT, has_unmapped_lines=True)
    return made


def test_every_tab_count_equals_the_rows_the_tab_lists(mixed, merchant_a):
    order_attention_refresh(merchant=merchant_a)
    counts = {t["key"]: t["count"] for t in tab_counts(merchant_a, QueryDict())}
    for tab in TABS:
        _f, rows = filtered_orders(merchant_a, QueryDict(f"tab={tab.key}"))
        assert counts[tab.key] == rows.count(), tab.key
    assert counts["all"] == len(mixed)
    assert counts["awaiting_shipment"] == 4  # partially shipped orders wait for shipment too
    assert counts["refunding"] == 2
    assert counts["exceptions"] == 2  # the unmapped line, the refund before shipping


def test_tab_counts_follow_the_search_and_filters(mixed, merchant_a):
    mixed[1].order_no = "FIND-1"
    mixed[1].save()
    counts = {t["key"]: t["count"] for t in tab_counts(merchant_a, QueryDict("q=FIND&tab=shipped"))}
    assert counts["all"] == 1 and counts["awaiting_shipment"] == 1 and counts["shipped"] == 0


def _found(merchant, q):
    from merchant.models import Order

    return set(Order.objects.filter(merchant=merchant).filter(search_filter(merchant, q))
               .values_list("order_no", flat=True))


@pytest.fixture
def searchable(merchant_a, merchant_b, carrier):
    customer = CustomerFactory(name="Kangjian Pharmacy")
    ErpCustomerCode.objects.create(merchant=merchant_a, customer=customer, code="KH-778")
    target = OrderFactory(
        merchant=merchant_a, order_no="2026120212345", receiver_name="王小明", receiver_phone="13812345678",
        buyer_nick="tb_wangxm", tracking_no="SF1400000001", customer=customer, seller_memo="call before noon",
        items=[{"item_name": "阿莫西林胶囊 0.25g", "erp_product_id": "P10012"}],
    )
    Shipment.objects.create(order=target, carrier=carrier, tracking_no="YT9800000002", shipped_at=timezone.now())
    OrderFactory(merchant=merchant_a, order_no="OTHER-1", receiver_name="李四", receiver_phone="13900000000",
                 items=[{"item_name": "布洛芬缓释胶囊", "erp_product_id": "P20001"}])
    # Merchant B's twin matches every search text and must never be found for merchant A.
    OrderFactory(merchant=merchant_b, order_no="2026120212345", receiver_name="王小明", receiver_phone="13812345678",
                 buyer_nick="tb_wangxm", tracking_no="SF1400000001",
                 items=[{"item_name": "阿莫西林胶囊 0.25g", "erp_product_id": "P10012"}])
    return target


@pytest.mark.parametrize("q", [
    "2026120212345", "20261202",  # order number, whole or its start
    "王小明", "王小",  # receiver, whole or its start
    "13812345678", "5678",  # phone, whole or its last four digits
    "SF1400000001", "YT9800000002",  # tracking number of the order or of one of its shipments
    "tb_wangxm", "tb_wang",  # buyer nick
    "阿莫西林", "P10012",  # part of an item's name, an item's ERP product id
    "KH-778",  # the customer's ERP customer code
    "before noon",  # part of the seller memo
])
def test_search_finds_the_order_by_each_field(searchable, merchant_a, q):
    assert _found(merchant_a, q) == {"2026120212345"}


@pytest.mark.parametrize("q", ["1234", "SF14", "noon-x", "P1001", "小明"])
def test_search_does_not_match_what_it_does_not_promise(searchable, merchant_a, q):
    # Digits inside the phone, the start of a tracking number, an ERP id's prefix, the end of a name.
    assert "2026120212345" not in _found(merchant_a, q)


def test_search_of_blank_text_matches_everything(searchable, merchant_a):
    assert _found(merchant_a, "  ") == {"2026120212345", "OTHER-1"}


def _rule_orders(merchant, key):
    from merchant.models import Order

    return set(Order.objects.filter(exception_orders_now(merchant, rule=key)).values_list("order_no", flat=True))


def _queued(merchant, key=""):
    from merchant.models import Order

    return set(Order.objects.filter(merchant=merchant).filter(exception_orders(merchant, rule=key))
               .values_list("order_no", flat=True))


def test_exception_rules_each_catch_their_orders(merchant_a, carrier):
    merchant_a.exception_take_hours, merchant_a.exception_ship_hours = 4, 24
    merchant_a.save()
    connection = ConnectionFactory(merchant=merchant_a)
    make = lambda no, **kw: OrderFactory(merchant=merchant_a, order_no=no, **kw)  # noqa: E731
    make("UNMAPPED", has_unmapped_lines=True)
    make("UNMAPPED-DONE", has_unmapped_lines=True, status=S.COMPLETED)
    make("REFUND", refund_status=RefundStatus.REQUESTED, paid_at=ago(minutes=5))
    make("REFUND-SHIPPED", refund_status=RefundStatus.REQUESTED, status=S.SHIPPED, shipped_at=ago(hours=1))
    make("NOT-TAKEN", paid_at=ago(hours=5))
    make("NOT-TAKEN-YET", paid_at=ago(hours=3))
    make("NOT-SHIPPED", taken_by_erp=True, taken_at=ago(hours=30), paid_at=ago(hours=31))
    make("NOT-SHIPPED-YET", taken_by_erp=True, taken_at=ago(hours=2), paid_at=ago(hours=31))
    stalled = make("STALLED", status=S.SHIPPED, shipped_at=ago(hours=100), taken_by_erp=True, taken_at=ago(hours=101))
    moving = make("MOVING", status=S.SHIPPED, shipped_at=ago(hours=100), taken_by_erp=True, taken_at=ago(hours=101))
    TrackingEntry.objects.create(order=stalled, at=ago(hours=90), message="picked up")
    TrackingEntry.objects.create(order=moving, at=ago(hours=10), message="in transit")
    rejected = make("REJECTED", paid_at=ago(minutes=10))
    ErpOrderRefusal.objects.create(connection=connection, order=rejected, message="unknown customer",
                                   refused_at=timezone.now())
    refused = make("LOGISTICS-REFUSED", status=S.SHIPPED, source=OrderSource.MARKETPLACE, connection=connection,
                   shipped_at=ago(hours=1), taken_by_erp=True, taken_at=ago(hours=2))
    Outbox.objects.create(connection=connection, kind="logistics", order=refused, due_at=timezone.now(),
                          generation=1, done_generation=1, failed_at=timezone.now(), last_error="bad tracking")
    # A marketplace parcel whose carrier trace sync reads is judged by its follow-up, not by tracking entries.
    followed = make("FOLLOWED", status=S.SHIPPED, source=OrderSource.MARKETPLACE, connection=connection,
                    shipped_at=ago(hours=100), taken_by_erp=True, taken_at=ago(hours=101), tracking_no="SF1")
    watched = make("WATCHED", status=S.SHIPPED, source=OrderSource.MARKETPLACE, connection=connection,
                   shipped_at=ago(hours=100), taken_by_erp=True, taken_at=ago(hours=101), tracking_no="SF2")
    for o in (followed, watched):
        TraceWatch.objects.create(connection=connection, order=o, due_at=timezone.now(), last_node_at=ago(hours=5))
    followup_stalled_open(order=followed, since=ago(hours=80), last_node_at=ago(hours=80), last_node_text="x",
                          carrier_name="SF", tracking_no="SF1")
    # An order without a carrier trace whose follow-up is open is listed under the follow-up rule alone.
    followed_by_hand = make("FOLLOWED-BY-HAND", status=S.SHIPPED, shipped_at=ago(hours=100), taken_by_erp=True,
                            taken_at=ago(hours=101))
    followup_stalled_open(order=followed_by_hand, since=ago(hours=100), last_node_at=None, last_node_text="",
                          carrier_name="SF", tracking_no="SF3")
    expected = {
        "unmapped": {"UNMAPPED"}, "refund_unshipped": {"REFUND"}, "not_taken": {"NOT-TAKEN"},
        "not_shipped": {"NOT-SHIPPED"}, "stalled": {"STALLED"}, "erp_rejected": {"REJECTED"},
        "logistics_refused": {"LOGISTICS-REFUSED"}, "follow_up": {"FOLLOWED", "FOLLOWED-BY-HAND"},
    }
    for rule in EXCEPTION_RULES:
        assert _rule_orders(merchant_a, rule.key) == expected[rule.key], rule.key
    everything = _rule_orders(merchant_a, "")
    assert everything == set().union(*expected.values())
    # The queue as the orders' attention bits keep it says the same, rule by rule.
    assert _queued(merchant_a) == set()  # nothing swept yet: rows made by factories touch no service
    newly = order_attention_refresh(merchant=merchant_a)
    assert len(newly) == len(everything)
    for rule in EXCEPTION_RULES:
        assert _queued(merchant_a, rule.key) == expected[rule.key], rule.key
    assert _queued(merchant_a) == everything
    assert order_attention_refresh(merchant=merchant_a) == []  # a second sweep changes nothing
    reasons = exception_reasons(merchant_a, [rejected.pk, stalled.pk, moving.pk])
    assert [r.key for r in reasons[rejected.pk]] == ["erp_rejected"]
    assert [r.key for r in reasons[stalled.pk]] == ["stalled"]
    assert moving.pk not in reasons


def test_the_exception_clocks_are_the_merchants_settings(merchant_a):
    OrderFactory(merchant=merchant_a, order_no="WAITING", paid_at=ago(hours=3))
    assert _rule_orders(merchant_a, "not_taken") == set()
    merchant_a.exception_take_hours = 2
    merchant_a.save()
    assert _rule_orders(merchant_a, "not_taken") == {"WAITING"}


def test_an_order_leaves_the_queue_when_the_merchant_acts_on_it(merchant_a, owner,
                                                                django_capture_on_commit_callbacks):
    order = OrderFactory(merchant=merchant_a, order_no="LATE", paid_at=ago(hours=6))
    order_attention_refresh(merchant=merchant_a)
    assert _queued(merchant_a) == {"LATE"}
    with django_capture_on_commit_callbacks(execute=True):
        order_status_change(order=order, status=S.CANCELLED, reason="buyer gone", actor=Actor.for_user(owner))
    assert _queued(merchant_a) == set()  # refreshed at the service's commit, not at the next sweep


def test_the_sweep_brings_in_orders_the_clock_moved(merchant_a):
    OrderFactory(merchant=merchant_a, order_no="SOON", paid_at=ago(hours=3))
    assert order_attention_refresh(merchant=merchant_a) == []
    later = timezone.now() + timedelta(hours=2)
    assert len(order_attention_refresh(merchant=merchant_a, now=later)) == 1
    assert _queued(merchant_a, "not_taken") == {"SOON"}


def test_flag_filter_and_memo(merchant_a):
    OrderFactory(merchant=merchant_a, order_no="RED", flag=OrderFlag.RED)
    OrderFactory(merchant=merchant_a, order_no="PLAIN")
    _f, rows = filtered_orders(merchant_a, QueryDict("flag=red"))
    assert [o.order_no for o in rows] == ["RED"]


def test_tab_counts_under_a_search_equal_the_rows_of_each_tab(mixed, merchant_a):
    for order in mixed[:5]:
        order.receiver_name = "张伟"
        order.save()
    order_attention_refresh(merchant=merchant_a)
    counts = {t["key"]: t["count"] for t in tab_counts(merchant_a, QueryDict("q=张伟"))}
    for tab in TABS:
        _f, rows = filtered_orders(merchant_a, QueryDict(f"q=张伟&tab={tab.key}"))
        assert counts[tab.key] == rows.count(), tab.key
    assert counts["all"] == 5


def test_a_search_matching_many_orders_lists_the_same_orders_row_by_row(searchable, merchant_a, monkeypatch):
    from merchant.selectors import orders as order_selectors

    for q in ("5678", "阿莫西林", "SF1400000001", "KH-778", "2026"):
        exact = _found(merchant_a, q)
        # Too many matches collected: every kind is checked order by order.
        monkeypatch.setattr(order_selectors, "SEARCH_EXACT_UP_TO", 0)
        assert order_selectors.order_search(merchant_a, q).large
        assert _found(merchant_a, q) == exact, q
        monkeypatch.setattr(order_selectors, "SEARCH_EXACT_UP_TO", 10_000)
        # A kind expected to match many is checked order by order, the others collected.
        monkeypatch.setattr(order_selectors, "LARGE_TERM", 0)
        assert order_selectors.order_search(merchant_a, q).large
        assert _found(merchant_a, q) == exact, q
        monkeypatch.setattr(order_selectors, "LARGE_TERM", 1_000)


def test_the_sweep_notifies_orders_that_newly_need_attention_once(merchant_a):
    from merchant.jobs import orders_attention_sweep
    from merchant.models import Notification, NotificationEvent

    OrderFactory(merchant=merchant_a, order_no="LATE-1", paid_at=ago(hours=6))
    assert orders_attention_sweep()["newly_needing_attention"] == 1
    note = Notification.objects.get(merchant=merchant_a, event=NotificationEvent.ORDER_EXCEPTIONS)
    assert "LATE-1" in note.body and note.url == "/orders/?tab=exceptions"
    OrderFactory(merchant=merchant_a, order_no="LATE-2", paid_at=ago(hours=7))
    assert orders_attention_sweep()["newly_needing_attention"] == 1
    # Within the cooldown the second finding is in the queue but not another message.
    assert Notification.objects.filter(event=NotificationEvent.ORDER_EXCEPTIONS).count() == 1
