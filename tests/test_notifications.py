"""Notifications (SPEC M15): the centre and its bell, cooldown, per-robot event switches, robot configuration by
owners only with write-only secrets, the delivery sweep, the events raised where things happen, retention."""
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.context_processors import notifications as bell_context
from merchant.models import (
    Delivery, DeliveryStatus, ImportJob, ImportStatus, ListingState, Notification, NotificationCooldown,
    NotificationEvent, RobotChannel,
)
from merchant.selectors import notifications_unread_count
from merchant.services import notifications as service
from merchant.services.notification_scans import notifications_scan
from merchant.services.notifications import notify
from sync import deliveries
from sync.breaker import breaker_transition
from sync.models import BreakerState
from sync.retention import records_purge
from sync.runs import connection_stop

from .factories import BatchFactory, ConnectionFactory, ProductFactory, RobotChannelFactory

pytestmark = pytest.mark.usefixtures("english_pages")

EVENT = NotificationEvent.CONNECTION_STOPPED
TOKEN = "tok-secret-robot-a1b2c3d4"
SECRET = "SECsigning-secret-never-shown"
WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"


def _notify(merchant, subject="connection:1", event=EVENT, **kwargs):
    return notify(merchant=merchant, event=event, subject_key=subject, title=f"About {subject}", body="details",
                  url="/connections/1/", **kwargs)


# notify, cooldown, per-robot switches


def test_notify_records_a_notification_and_a_delivery_per_robot_switched_on_for_the_event(merchant_a):
    on = RobotChannelFactory(merchant=merchant_a, events=[EVENT])
    RobotChannelFactory(merchant=merchant_a, events=[NotificationEvent.LOW_STOCK])
    RobotChannelFactory(merchant=merchant_a, events=[EVENT], is_enabled=False)
    notification = _notify(merchant_a)
    assert notification.event == EVENT and notification.url == "/connections/1/"
    assert list(Delivery.objects.values_list("channel_id", "status")) == [(on.pk, DeliveryStatus.PENDING)]


def test_the_same_event_about_the_same_subject_is_not_notified_twice_within_the_cooldown(merchant_a, settings):
    settings.NOTIFY_COOLDOWN_SECONDS = 3600
    RobotChannelFactory(merchant=merchant_a)
    assert _notify(merchant_a) is not None
    assert _notify(merchant_a) is None
    assert _notify(merchant_a, subject="connection:2") is not None
    assert _notify(merchant_a, event=NotificationEvent.BREAKER_OPENED) is not None
    NotificationCooldown.objects.update(last_at=timezone.now() - timedelta(seconds=3601))
    assert _notify(merchant_a) is not None
    assert Notification.objects.count() == 4 and Delivery.objects.count() == 4


def test_the_cooldown_is_per_merchant(merchant_a, merchant_b):
    assert _notify(merchant_a) is not None
    assert _notify(merchant_b) is not None


def test_a_notification_link_is_only_ever_a_path_of_this_site(merchant_a):
    for url in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        assert notify(merchant=merchant_a, event=EVENT, subject_key=url, title="t", url=url).url == ""


@pytest.mark.django_db(transaction=True)  # django-rq sends a job enqueued in a transaction only on commit
def test_deliveries_are_queued_with_the_sync_time_limit_after_commit(merchant_a, settings):
    from django.db import transaction

    settings.SYNC_JOB_TIMEOUT = 123
    RobotChannelFactory(merchant=merchant_a)
    queue = django_rq.get_queue("sync")
    queue.empty()
    with transaction.atomic():
        _notify(merchant_a)
        assert queue.count == 0  # nothing before the commit
    delivery = Delivery.objects.get()
    job = queue.fetch_job(service.delivery_job_id(delivery.pk))
    assert job.func_name == "sync.jobs.notification_deliver" and job.args == (delivery.pk,)
    assert job.timeout == 123
    queue.empty()


def test_the_sweep_queues_due_deliveries_again_but_not_ones_in_flight(merchant_a, monkeypatch):
    RobotChannelFactory(merchant=merchant_a)
    _notify(merchant_a)
    _notify(merchant_a, subject="connection:2")
    lost, in_flight = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=in_flight.pk).update(due_at=timezone.now() + timedelta(minutes=1), claim_token="x")
    queued = []
    monkeypatch.setattr(deliveries, "delivery_enqueue", lambda pk, **kw: queued.append(pk))
    assert deliveries.deliveries_sweep() == [lost.pk]
    assert queued == [lost.pk]


# the bell and the centre


def test_the_bell_counts_unread_notifications_per_member(merchant_a, owner, operator, viewer):
    first, second, third = (_notify(merchant_a, subject=f"s:{n}") for n in range(3))
    service.notification_mark_read(notification=second, user=owner)
    assert notifications_unread_count(owner, merchant_a.pk) == 2
    assert notifications_unread_count(operator, merchant_a.pk) == 3
    service.notifications_mark_all_read(merchant=merchant_a, user=viewer)
    assert notifications_unread_count(viewer, merchant_a.pk) == 0
    _notify(merchant_a, subject="s:new")
    assert notifications_unread_count(viewer, merchant_a.pk) == 1
    assert notifications_unread_count(owner, merchant_a.pk) == 3


def test_the_bell_costs_one_query(merchant_a, owner, rf, django_assert_num_queries):
    for n in range(5):
        _notify(merchant_a, subject=f"s:{n}")
    request = rf.get("/")
    owner.membership  # noqa: B018 - the middleware loads it for every request
    request.user = owner
    count = bell_context(request)["unread_notifications"]
    with django_assert_num_queries(1):
        assert count() == 5
        assert count() == 5


def test_the_bell_stops_counting_past_99(merchant_a, owner):
    Notification.objects.bulk_create([Notification(merchant=merchant_a, event=EVENT, subject_key=str(n), title="t")
                                      for n in range(120)])
    assert notifications_unread_count(owner, merchant_a.pk) == 100


def test_every_page_shows_the_bell_with_the_members_unread_count(client_owner, client_viewer, merchant_a, owner):
    _notify(merchant_a)
    service.notification_mark_read(notification=_notify(merchant_a, subject="s:2"), user=owner)
    page = client_owner.get(reverse("product_list")).content.decode()
    assert 'id="bell-count">1<' in page
    assert 'id="bell-count">2<' in client_viewer.get(reverse("dashboard")).content.decode()


def test_the_centre_lists_newest_first_with_unread_highlighted(client_operator, merchant_a, operator):
    old, new = _notify(merchant_a, subject="s:old"), _notify(merchant_a, subject="s:new")
    service.notification_mark_read(notification=old, user=operator)
    page = client_operator.get(reverse("notification_list")).content.decode()
    assert page.index("About s:new") < page.index("About s:old")
    assert f'<tr class="unread" data-notification="{new.pk}">' in page
    assert f'<tr class="" data-notification="{old.pk}">' in page
    assert 'href="/connections/1/"' in page


def test_the_centre_is_paginated(client_viewer, merchant_a, settings):
    settings.PAGE_SIZE = 2
    for n in range(5):
        _notify(merchant_a, subject=f"s:{n}")
    page = client_viewer.get(reverse("notification_list") + "?page=3").content.decode()
    assert page.count("data-notification=") == 1 and "About s:0" in page


def test_members_mark_one_or_all_read_by_post(client_viewer, merchant_a, viewer):
    one, _two = _notify(merchant_a), _notify(merchant_a, subject="s:2")
    assert client_viewer.get(reverse("notification_read", args=[one.pk])).status_code == 405
    response = client_viewer.post(reverse("notification_read", args=[one.pk]), {"next": "/notifications/?page=1"})
    assert response.status_code == 302 and response["Location"] == "/notifications/?page=1"
    assert notifications_unread_count(viewer, merchant_a.pk) == 1
    response = client_viewer.post(reverse("notifications_read_all"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("notification_list")
    assert notifications_unread_count(viewer, merchant_a.pk) == 0


def test_a_member_cannot_mark_another_merchants_notification(client_outsider, merchant_a):
    notification = _notify(merchant_a)
    assert client_outsider.post(reverse("notification_read", args=[notification.pk])).status_code == 404


# robot channels: owners only, write-only secrets


def _add(client, **fields):
    data = {"name": "Warehouse group", "kind": "dingtalk", "webhook_url": WEBHOOK, "secret": SECRET,
            "events": [EVENT, NotificationEvent.LOW_STOCK], "is_enabled": "on", **fields}
    return client.post(reverse("robot_channel_add"), data)


def test_an_owner_adds_a_robot_with_the_events_it_receives(client_owner, merchant_a):
    response = _add(client_owner)
    assert response.status_code == 302
    channel = RobotChannel.objects.get(merchant=merchant_a)
    assert channel.webhook_url == WEBHOOK and channel.secret == SECRET
    assert TOKEN not in channel.webhook_url_encrypted and SECRET not in channel.secret_encrypted
    assert channel.webhook_host == "oapi.dingtalk.com" and channel.token_hint == "c3d4"
    assert channel.events == [EVENT, NotificationEvent.LOW_STOCK] and channel.is_enabled


@pytest.mark.parametrize("url, error", [
    ("http://oapi.dingtalk.com/robot/send?access_token=t", "must start with https://"),
    ("https://10.1.2.3/robot/send?access_token=t", "local or private network"),
    ("https://oapi.dingtalk.com/robot/send", "access_token"),
    ("ftp://oapi.dingtalk.com/robot/send?access_token=t", "https://"),
])
def test_a_webhook_address_we_would_not_call_is_refused(client_owner, url, error):
    response = _add(client_owner, webhook_url=url)
    assert response.status_code == 400 and error in response.content.decode()
    assert not RobotChannel.objects.exists()


def test_an_allowed_local_test_robot_may_use_plain_http(client_owner, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8765"]
    assert _add(client_owner, webhook_url="http://127.0.0.1:8765/robot/send?access_token=t").status_code == 302


def test_no_page_shows_the_webhook_token_or_the_signing_secret(client_owner, merchant_a, owner_actor):
    _add(client_owner)
    channel = RobotChannel.objects.get()
    service.robot_channel_test(channel=channel, actor=owner_actor)
    for url in (reverse("robot_channel_list"), reverse("robot_channel_edit", args=[channel.pk]),
                reverse("robot_channel_delete", args=[channel.pk]), reverse("robot_channel_test_status",
                                                                            args=[channel.pk]),
                reverse("notification_list"), reverse("dashboard")):
        html = client_owner.get(url).content.decode()
        assert TOKEN not in html and SECRET not in html and "access_token" not in html, url
    listing = client_owner.get(reverse("robot_channel_list")).content.decode()
    assert "oapi.dingtalk.com" in listing and "token ending in …c3d4" in listing
    # A refused form does not echo them back either.
    html = _add(client_owner, name="").content.decode()
    assert TOKEN not in html and SECRET not in html


def test_editing_keeps_the_stored_address_and_secret_when_left_blank(client_owner, merchant_a):
    _add(client_owner)
    channel = RobotChannel.objects.get()
    response = client_owner.post(reverse("robot_channel_edit", args=[channel.pk]), {
        "name": "Renamed", "webhook_url": "", "secret": "", "events": [NotificationEvent.IMPORT_FAILED]})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Renamed" and channel.webhook_url == WEBHOOK and channel.secret == SECRET
    assert channel.events == [NotificationEvent.IMPORT_FAILED] and not channel.is_enabled
    assert channel.kind == "dingtalk"


def test_an_address_on_another_host_needs_the_secret_again(client_owner):
    _add(client_owner)
    channel = RobotChannel.objects.get()
    response = client_owner.post(reverse("robot_channel_edit", args=[channel.pk]), {
        "name": "x", "webhook_url": "https://robots.example/robot/send?access_token=new", "events": [EVENT]})
    assert response.status_code == 400 and "signing secret entered again" in response.content.decode()
    channel.refresh_from_db()
    assert channel.webhook_url == WEBHOOK


def test_an_owner_disables_enables_and_deletes_a_robot_after_confirming(client_owner, merchant_a):
    channel = RobotChannelFactory(merchant=merchant_a)
    client_owner.post(reverse("robot_channel_disable", args=[channel.pk]))
    channel.refresh_from_db()
    assert not channel.is_enabled
    client_owner.post(reverse("robot_channel_enable", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.is_enabled
    confirm = client_owner.get(reverse("robot_channel_delete", args=[channel.pk]))
    assert confirm.status_code == 200 and 'id="confirm-delete"' in confirm.content.decode()
    assert RobotChannel.objects.filter(pk=channel.pk).exists()
    client_owner.post(reverse("robot_channel_delete", args=[channel.pk]))
    assert not RobotChannel.objects.filter(pk=channel.pk).exists()


def test_send_test_queues_a_test_delivery_and_the_list_shows_its_outcome(client_owner, merchant_a):
    channel = RobotChannelFactory(merchant=merchant_a)
    assert client_owner.post(reverse("robot_channel_test", args=[channel.pk])).status_code == 302
    test = Delivery.objects.get(channel=channel, notification__isnull=True)
    assert test.status == DeliveryStatus.PENDING
    status = client_owner.get(reverse("robot_channel_test_status", args=[channel.pk])).json()
    assert status == {"status": "pending", "label": "Waiting to be sent", "finished": False, "error": ""}
    Delivery.objects.filter(pk=test.pk).update(status=DeliveryStatus.FAILED, error="the robot refused the message")
    page = client_owner.get(reverse("robot_channel_list")).content.decode()
    assert "Failed" in page and "the robot refused the message" in page
    assert not Notification.objects.exists()  # a test is not an event


@pytest.mark.parametrize("role_client", ["client_operator", "client_viewer"])
def test_only_owners_configure_robots(request, role_client, merchant_a):
    client = request.getfixturevalue(role_client)
    channel = RobotChannelFactory(merchant=merchant_a)
    for method, name, args in [("get", "robot_channel_list", []), ("get", "robot_channel_add", []),
                               ("post", "robot_channel_add", []), ("get", "robot_channel_edit", [channel.pk]),
                               ("post", "robot_channel_edit", [channel.pk]),
                               ("get", "robot_channel_delete", [channel.pk]),
                               ("post", "robot_channel_delete", [channel.pk]),
                               ("post", "robot_channel_enable", [channel.pk]),
                               ("post", "robot_channel_disable", [channel.pk]),
                               ("post", "robot_channel_test", [channel.pk]),
                               ("get", "robot_channel_test_status", [channel.pk])]:
        assert getattr(client, method)(reverse(name, args=args)).status_code == 403, name
    assert RobotChannel.objects.filter(pk=channel.pk, is_enabled=True).exists()
    assert client.get(reverse("notification_list")).status_code == 200


# events raised where they happen


def test_a_stopped_connection_is_notified_once(merchant_a):
    connection = ConnectionFactory(merchant=merchant_a, name="Tmall shop")
    connection_stop(connection, "The marketplace session has expired")
    connection_stop(connection, "The marketplace session has expired")
    notification = Notification.objects.get()
    assert notification.event == NotificationEvent.CONNECTION_STOPPED
    assert notification.title == "Connection Tmall shop stopped"
    assert notification.url == connection.get_absolute_url()


def test_an_opening_breaker_is_notified(merchant_a):
    connection = ConnectionFactory(merchant=merchant_a)
    breaker_transition(connection, BreakerState.OPEN, "30 of 100 calls failed")
    notification = Notification.objects.get()
    assert notification.event == NotificationEvent.BREAKER_OPENED and notification.body == "30 of 100 calls failed"


def test_an_applied_import_and_a_failed_check_are_notified(merchant_a, owner):
    from merchant.services.notifications import import_outcome_notify

    job = ImportJob.objects.create(merchant=merchant_a, kind="stock", file_name="stock.csv", file_format="csv",
                                   status=ImportStatus.APPLIED)
    import_outcome_notify(job=job, applied=12)
    import_outcome_notify(job=job, reason="The file is empty.")
    applied, failed = Notification.objects.order_by("pk")
    assert applied.event == NotificationEvent.IMPORT_FINISHED and applied.body == "12 rows applied."
    assert failed.event == NotificationEvent.IMPORT_FAILED and failed.body == "The file is empty."
    assert failed.url == reverse("import_detail", args=[job.pk])


def test_order_exceptions_can_be_notified(merchant_a):
    notification = notify(merchant=merchant_a, event=NotificationEvent.ORDER_EXCEPTIONS, subject_key="order:9",
                          title="Order 9 has an exception")
    assert notification.get_event_display() == "New order exceptions"


def test_the_scan_notifies_low_stock_when_it_starts_not_on_every_run(merchant_a):
    merchant_a.low_stock_threshold = 5
    merchant_a.save()
    low = ProductFactory(merchant=merchant_a, stock=2, listing_state=ListingState.LISTED, name="Aspirin")
    ProductFactory(merchant=merchant_a, stock=50, listing_state=ListingState.LISTED)
    assert notifications_scan()[NotificationEvent.LOW_STOCK] == 1
    notification = Notification.objects.get(event=NotificationEvent.LOW_STOCK)
    assert "Aspirin: stock 2" in notification.body
    assert notification.url == reverse("product_detail", args=[low.pk])
    assert NotificationEvent.LOW_STOCK not in notifications_scan()
    low.stock = 40
    low.save()
    notifications_scan()
    low.stock = 1
    low.save()
    NotificationCooldown.objects.update(last_at=timezone.now() - timedelta(days=1))
    assert notifications_scan()[NotificationEvent.LOW_STOCK] == 1


def test_the_scan_sums_up_batches_entering_the_expiry_window(merchant_a):
    merchant_a.expiry_exclusion_days = 30
    merchant_a.save()
    today = timezone.localdate()
    for days in (10, 20, 200):
        BatchFactory(product__merchant=merchant_a, quantity=5, expiry_date=today + timedelta(days=days),
                     production_date=today - timedelta(days=100))
    assert notifications_scan()[NotificationEvent.BATCH_EXPIRING] == 2
    notification = Notification.objects.get(event=NotificationEvent.BATCH_EXPIRING)
    assert notification.title == "2 batches entered the expiry window" and notification.url == reverse("dashboard")


def test_the_scan_notifies_stalled_shipments(merchant_a, order):
    from merchant.models import OrderStatus

    type(order).objects.filter(pk=order.pk).update(status=OrderStatus.SHIPPED,
                                                   shipped_at=timezone.now() - timedelta(hours=80))
    assert notifications_scan()[NotificationEvent.LOGISTICS_STALLED] == 1
    assert Notification.objects.get(event=NotificationEvent.LOGISTICS_STALLED).url == reverse(
        "order_detail", args=[order.pk])


def test_old_notifications_and_test_deliveries_are_purged(merchant_a):
    RobotChannelFactory(merchant=merchant_a)
    old, new = _notify(merchant_a), _notify(merchant_a, subject="s:new")
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    purged = records_purge()
    assert purged["notifications"] >= 1
    assert list(Notification.objects.values_list("pk", flat=True)) == [new.pk]
    assert Delivery.objects.count() == 1
