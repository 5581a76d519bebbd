"""The follow-up queue (issue 15): the services' rules, the page for each role, isolation between merchants,
the exception queue and notifications showing open follow-ups, and the `alerts_list` CLI contract."""
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditEntry, FollowUp, FollowUpStatus, NotificationEvent, Notification, OrderStatus
from merchant.selectors.orders import exception_orders_now
from merchant.services.followups import (
    followup_assign, followup_note, followup_resolve, followup_stalled_open, followup_trace_moved,
)
from merchant.services.notification_scans import merchant_scan
from merchant.services.order_attention import order_attention_refresh
from tests.factories import OrderFactory

pytestmark = pytest.mark.usefixtures("english_pages")

SINCE = timezone.now().replace(microsecond=0) - timedelta(hours=90)


def shipped_order(merchant, no="TB100", **fields):
    return OrderFactory(merchant=merchant, order_no=no, status=OrderStatus.SHIPPED, tracking_no="SF1000000000001",
                        shipped_at=SINCE - timedelta(hours=9), **fields)


def open_for(order, since=SINCE) -> FollowUp | None:
    return followup_stalled_open(order=order, since=since, last_node_at=since, last_node_text="【杭州转运中心】已发出",
                                 carrier_name="顺丰速运", tracking_no=order.tracking_no)


@pytest.fixture
def followup(merchant_a):
    return open_for(shipped_order(merchant_a))


@pytest.fixture
def outsider_followup(merchant_b):
    return open_for(shipped_order(merchant_b, no="TB-B-1"))


# Services

def test_one_stall_opens_one_follow_up(merchant_a, followup):
    assert followup.status == FollowUpStatus.OPEN and followup.stall_hours == 72
    assert open_for(followup.order) is None
    assert open_for(followup.order, since=SINCE + timedelta(hours=1)) is None  # still open: not a second one
    assert FollowUp.objects.count() == 1


def test_a_resolved_stall_is_not_opened_again_but_a_new_stall_is(merchant_a, followup, owner_actor):
    followup_resolve(followup=followup, note="", actor=owner_actor)
    assert open_for(followup.order) is None
    later = open_for(followup.order, since=SINCE + timedelta(hours=30))
    assert later is not None and FollowUp.objects.filter(status=FollowUpStatus.OPEN).count() == 1


def test_the_reason_names_the_merchants_limit(merchant_a):
    merchant_a.logistics_stall_hours = 48
    merchant_a.save()
    followup = open_for(shipped_order(merchant_a))
    assert followup.stall_hours == 48 and followup.reason() == "No new carrier trace node for more than 48 hours"


def test_a_trace_that_moves_is_recorded_and_the_follow_up_stays_open(followup):
    moved = followup_trace_moved(order=followup.order, last_node_at=SINCE + timedelta(hours=80),
                                 last_node_text="【上海转运中心】已到达", delivered=False)
    assert moved.status == FollowUpStatus.OPEN and moved.moved_at is not None
    assert moved.last_node_text == "【上海转运中心】已到达"
    assert followup_trace_moved(order=followup.order, last_node_at=SINCE + timedelta(hours=80),
                                last_node_text="【上海转运中心】已到达", delivered=False) is None


def test_assign_note_and_resolve_are_audited(followup, operator, operator_actor):
    followup_assign(followup=followup, assignee=operator, actor=operator_actor)
    followup_note(followup=followup, text="Carrier says it is at the depot", actor=operator_actor)
    followup_resolve(followup=followup, note="Buyer received it", actor=operator_actor)
    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.RESOLVED and followup.resolved_by == operator
    fields = set(AuditEntry.objects.filter(entity="followup", entity_id=followup.pk, actor=operator)
                 .values_list("field", flat=True))
    assert {"assignee", "note", "status", "resolved_at"} <= fields


def test_a_follow_up_cannot_be_given_to_another_merchants_user(followup, outsider, owner_actor):
    with pytest.raises(ValidationError):
        followup_assign(followup=followup, assignee=outsider, actor=owner_actor)


def test_a_viewer_cannot_change_a_follow_up(followup, viewer_actor):
    with pytest.raises(PermissionDenied):
        followup_resolve(followup=followup, note="", actor=viewer_actor)


def test_a_resolved_follow_up_cannot_be_resolved_again(followup, owner_actor):
    followup_resolve(followup=followup, note="", actor=owner_actor)
    with pytest.raises(ValidationError):
        followup_resolve(followup=followup, note="", actor=owner_actor)


# The exception queue and notifications

def test_an_open_follow_up_puts_the_order_in_the_exception_queue_until_resolved(merchant_a, followup, owner_actor):
    def caught():
        return set(merchant_a.orders.filter(exception_orders_now(merchant_a, rule="follow_up"))
                   .values_list("pk", flat=True))

    assert caught() == {followup.order_id}
    order_attention_refresh(merchant=merchant_a)
    followup.order.refresh_from_db()
    assert followup.order.attention > 0
    followup_resolve(followup=followup, note="", actor=owner_actor)
    assert caught() == set()


def test_the_notification_scan_reports_open_follow_ups_once(merchant_a, followup):
    assert merchant_scan(merchant_a)[NotificationEvent.LOGISTICS_STALLED] == 1
    notification = Notification.objects.get(event=NotificationEvent.LOGISTICS_STALLED)
    assert notification.url == reverse("followup_detail", args=[followup.pk])
    assert NotificationEvent.LOGISTICS_STALLED not in merchant_scan(merchant_a)


# Pages

def test_every_role_sees_the_queue_with_local_times(client_owner, client_operator, client_viewer, followup):
    local = timezone.localtime(followup.since).strftime("%Y-%m-%d %H:%M")
    for client in (client_owner, client_operator, client_viewer):
        page = client.get(reverse("followup_list")).content.decode()
        assert followup.order.order_no in page and "顺丰速运" in page and "SF1000000000001" in page
        assert local in page and "No new carrier trace node for more than 72 hours" in page


def test_the_nav_links_the_queue(client_viewer, followup):
    assert f'href="{reverse("followup_list")}"' in client_viewer.get(reverse("dashboard")).content.decode()


def test_owner_and_operator_can_assign_note_and_resolve(editor_client, followup, operator):
    url = reverse("followup_detail", args=[followup.pk])
    assert 'id="resolve"' in editor_client.get(url).content.decode()
    editor_client.post(reverse("followup_assign", args=[followup.pk]), {"assignee": operator.pk})
    editor_client.post(reverse("followup_note", args=[followup.pk]), {"note": "Asked the carrier"})
    response = editor_client.post(reverse("followup_resolve", args=[followup.pk]), {"note": "Delivered"})
    assert response.status_code == 302
    followup.refresh_from_db()
    assert followup.assignee == operator and followup.note == "Delivered" and not followup.is_open
    assert "Follow-up resolved." in editor_client.get(url).content.decode()


def test_a_viewer_sees_no_actions_and_cannot_post_them(client_viewer, followup, operator):
    page = client_viewer.get(reverse("followup_detail", args=[followup.pk])).content.decode()
    assert 'id="resolve"' not in page and 'id="assign-form"' not in page
    assert client_viewer.post(reverse("followup_resolve", args=[followup.pk]), {"note": ""}).status_code == 403
    assert client_viewer.post(reverse("followup_assign", args=[followup.pk]),
                              {"assignee": operator.pk}).status_code == 403
    followup.refresh_from_db()
    assert followup.is_open and followup.assignee is None


def test_resolved_follow_ups_are_filtered_apart(client_owner, followup, merchant_a, owner_actor):
    other = open_for(shipped_order(merchant_a, no="TB200"))
    followup_resolve(followup=followup, note="", actor=owner_actor)
    open_page = client_owner.get(reverse("followup_list")).content.decode()
    resolved_page = client_owner.get(reverse("followup_list") + "?status=resolved").content.decode()
    assert f'data-followup="{other.pk}"' in open_page and f'data-followup="{followup.pk}"' not in open_page
    assert f'data-followup="{followup.pk}"' in resolved_page and f'data-followup="{other.pk}"' not in resolved_page


def test_the_assignee_filter_shows_mine_and_nobodys(client_operator, followup, merchant_a, operator, owner_actor):
    mine = open_for(shipped_order(merchant_a, no="TB300"))
    followup_assign(followup=mine, assignee=operator, actor=owner_actor)
    page = client_operator.get(reverse("followup_list") + "?assignee=me").content.decode()
    assert f'data-followup="{mine.pk}"' in page and f'data-followup="{followup.pk}"' not in page
    page = client_operator.get(reverse("followup_list") + "?assignee=none").content.decode()
    assert f'data-followup="{followup.pk}"' in page and f'data-followup="{mine.pk}"' not in page


def test_a_moved_trace_is_said_on_the_page(client_owner, followup):
    followup_trace_moved(order=followup.order, last_node_at=SINCE + timedelta(hours=80), last_node_text="已到达",
                         delivered=False)
    assert "Moving again" in client_owner.get(reverse("followup_list")).content.decode()
    detail = client_owner.get(reverse("followup_detail", args=[followup.pk])).content.decode()
    assert "The carrier trace moved again after this follow-up opened" in detail


# Isolation

def test_another_merchant_sees_nothing_of_a_follow_up(client_outsider, followup, outsider_followup):
    page = client_outsider.get(reverse("followup_list") + "?status=all").content.decode()
    assert followup.order.order_no not in page and outsider_followup.order.order_no in page
    assert client_outsider.get(reverse("followup_detail", args=[followup.pk])).status_code == 404


def test_another_merchant_cannot_assign_or_resolve_a_follow_up(client_outsider, followup, outsider):
    assert client_outsider.post(reverse("followup_assign", args=[followup.pk]),
                                {"assignee": outsider.pk}).status_code == 404
    assert client_outsider.post(reverse("followup_note", args=[followup.pk]), {"note": "x"}).status_code == 404
    assert client_outsider.post(reverse("followup_resolve", args=[followup.pk]), {"note": ""}).status_code == 404
    followup.refresh_from_db()
    assert followup.is_open and followup.assignee is None and followup.note == ""


def test_a_member_of_another_merchant_cannot_be_assigned_through_the_page(client_owner, followup, outsider):
    client_owner.post(reverse("followup_assign", args=[followup.pk]), {"assignee": outsider.pk})
    followup.refresh_from_db()
    assert followup.assignee is None


# alerts_list

def test_alerts_list_json_prints_one_object_per_open_follow_up(merchant_a, followup, owner_actor):
    resolved = open_for(shipped_order(merchant_a, no="TB400"))
    followup_resolve(followup=resolved, note="", actor=owner_actor)
    out = StringIO()
    call_command("alerts_list", "merchant-a", "--json", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["kind"] == "logistics_stalled" and row["order_no"] == "TB100"
    assert row["reason"] == "No new carrier trace node for more than 72 hours"
    since = timezone.datetime.fromisoformat(row["since"])
    assert since.utcoffset() is not None and since == followup.since
    assert row["since"].endswith("+08:00") and row["tracking_no"] == "SF1000000000001"
    assert row["carrier"] == "顺丰速运" and row["moved_at"] is None


def test_alerts_list_prints_a_readable_table(merchant_a, followup):
    out = StringIO()
    call_command("alerts_list", "merchant-a", stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0].startswith("KIND") and "TB100" in text and "1 open alert." in text


def test_alerts_list_says_when_nothing_is_open(merchant_a):
    out = StringIO()
    call_command("alerts_list", "merchant-a", stdout=out)
    assert out.getvalue().strip() == "No open alerts."
    out = StringIO()
    call_command("alerts_list", "merchant-a", "--json", stdout=out)
    assert out.getvalue() == ""


def test_alerts_list_refuses_an_unknown_merchant(db):
    with pytest.raises(CommandError, match="no merchant"):
        call_command("alerts_list", "nobody", "--json")


def test_alerts_list_shows_only_the_merchants_own_alerts(merchant_a, merchant_b, followup, outsider_followup):
    out = StringIO()
    call_command("alerts_list", "merchant-b", "--json", stdout=out)
    assert [json.loads(line)["order_no"] for line in out.getvalue().splitlines()] == ["TB-B-1"]


def test_alerts_list_keeps_to_the_kinds_asked_for(merchant_a, followup):
    out = StringIO()
    call_command("alerts_list", "merchant-a", "--json", "--kind", "low_stock", stdout=out)
    assert out.getvalue() == ""
    call_command("alerts_list", "merchant-a", "--json", "--kind", "logistics_stalled", stdout=out)
    assert len(out.getvalue().splitlines()) == 1
