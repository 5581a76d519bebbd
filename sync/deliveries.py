"""Sending notifications to robots (SPEC M15): one RQ job per delivery claims it with a conditional update, sends
it once and records the outcome: sent; due again after a backoff (a 5xx, a network error, the vendor's rate
limit); or failed with the reason (a 4xx, a bad token or signature, or the last attempt). The database is the
truth: a claim moves `due_at` past the time a send can take, so a pending delivery that is due has no live
worker, and the sweep (every minute) queues it again, as the dispatcher does for the outbox.

A "send test" delivery is tried once: the owner is waiting for its answer."""
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from merchant.models import Delivery, DeliveryStatus
from merchant.services.notifications import delivery_enqueue

from . import robots
from .errors import Permanent, RateLimited, Retryable

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
SWEEP_LIMIT = 500


def in_flight() -> timedelta:
    """How long a claimed delivery is left to its worker: longer than any one send may take."""
    return timedelta(seconds=settings.OUTBOUND_TOTAL_TIMEOUT + 60)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 30 s, 2 min, 8 min, 32 min, at most an hour."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 4 ** max(0, attempts - 1))


def delivery_claim(delivery_id: int, *, now=None) -> Delivery | None:
    """Take the delivery if it is pending and due (nobody else holds it); None otherwise."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, due_at__lte=now).update(
        claim_token=token, due_at=now + in_flight(), attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    return Delivery.objects.select_related("channel", "notification").get(pk=delivery_id)


def _message(delivery: Delivery) -> robots.Message:
    if delivery.notification is None:
        return robots.test_message()
    notification = delivery.notification
    return robots.message_for(title=notification.title, body=notification.body, path=notification.url,
                              event_label=str(notification.get_event_display()))


def _settle(delivery: Delivery, **changes) -> bool:
    return bool(Delivery.objects.filter(pk=delivery.pk, claim_token=delivery.claim_token).update(
        claim_token="", **changes))


def delivery_send(delivery_id: int, *, now=None) -> str | None:
    """Send one delivery if it is due; returns its status afterwards, or None when it was not ours to send (not
    pending, not due, or another worker has it)."""
    delivery = delivery_claim(delivery_id, now=now)
    if delivery is None:
        return None
    channel = delivery.channel
    retry_after = None
    with translation.override(delivery.language or settings.LANGUAGE_CODE):
        if not channel.is_enabled and not delivery.is_test:
            _settle(delivery, status=DeliveryStatus.FAILED, error=_("the robot was disabled before it was sent"))
            return DeliveryStatus.FAILED
        try:
            robots.robot_send(channel, _message(delivery), language=delivery.language)
        except Permanent as exc:
            error, permanent = str(exc), True
        except RateLimited as exc:
            error, permanent = str(exc), False
            retry_after = timedelta(seconds=max(exc.seconds, 1))
        except Retryable as exc:
            error, permanent = str(exc), False
        except Exception:
            # A bug of ours must not leave the row in flight forever; it is tried again, like a network error.
            log.exception("notification delivery %s failed", delivery_id)
            error, permanent = _("the message could not be sent because of an internal error"), False
        else:
            _settle(delivery, status=DeliveryStatus.SENT, sent_at=timezone.now(), error="")
            return DeliveryStatus.SENT
        if permanent or delivery.is_test or delivery.attempts >= MAX_ATTEMPTS:
            _settle(delivery, status=DeliveryStatus.FAILED, error=error[:300])
            log.info("notification delivery %s to robot %s failed", delivery_id, channel.pk)
            return DeliveryStatus.FAILED
        wait = max(retry_after or timedelta(0), backoff(delivery.attempts))
        if _settle(delivery, error=error[:300], due_at=timezone.now() + wait):
            delivery_enqueue(delivery.pk, delay=wait)
        return DeliveryStatus.PENDING


def deliveries_sweep(*, now=None) -> list[int]:
    """Queue the pending deliveries that are due (a retry's time came, or their job was lost with a worker or
    with Redis); returns their ids. Sending claims each again, so one queued twice is sent once."""
    now = now or timezone.now()
    ids = list(Delivery.objects.filter(status=DeliveryStatus.PENDING, due_at__lte=now)
               .order_by("due_at").values_list("pk", flat=True)[:SWEEP_LIMIT])
    for delivery_id in ids:
        delivery_enqueue(delivery_id, unless_waiting=True)
    return ids
