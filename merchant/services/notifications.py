"""Notifications (SPEC M15): `notify` records an event for the merchant's notification centre and a pending
delivery to each of its robots switched on for that event, in the caller's transaction, and queues the
deliveries once it commits. The same event about the same subject is notified at most once per cooldown, held
by a unique row in the database (not by Redis).

Robot channels are configured by owners; their webhook address and signing secret are write-only.

This module does not import the sync engine: deliveries are queued by the dotted path of their job, and the
sync app registers the outbound address check it owns (webhook_url_check_register) when it starts.
"""
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

import django_rq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from merchant.models import (
    Delivery, Notification, NotificationCooldown, NotificationCursor, NotificationEvent, NotificationRead,
    RobotChannel, RobotKind,
)
from merchant.models.notifications import webhook_token
from merchant.permissions import Action, Actor
from merchant.services.audit import audit_changes

log = logging.getLogger(__name__)

QUEUE = "sync"
DELIVER_JOB = "sync.jobs.notification_deliver"
TITLE_MAX, BODY_MAX, URL_MAX = 200, 2000, 300
WAITING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def delivery_job_id(delivery_id: int) -> str:
    return f"notify-delivery-{delivery_id}"


def delivery_enqueue(delivery_id: int, *, delay: timedelta | None = None, unless_waiting: bool = False) -> None:
    """Ask a worker to send the delivery (after `delay`; not again while its job still waits when
    `unless_waiting`). Best effort: with Redis away the periodic sweep finds the pending row by itself."""
    try:
        queue = django_rq.get_queue(QUEUE)
        if unless_waiting:
            try:
                if Job.fetch(delivery_job_id(delivery_id), connection=queue.connection).get_status() in WAITING:
                    return
            except NoSuchJobError:
                pass
        options = {"job_id": delivery_job_id(delivery_id), "job_timeout": settings.SYNC_JOB_TIMEOUT,
                   "result_ttl": 3600, "failure_ttl": 86400}
        if delay:
            queue.enqueue_in(delay, DELIVER_JOB, delivery_id, **options)
        else:
            queue.enqueue(DELIVER_JOB, delivery_id, **options)
    except RedisError:
        log.warning("could not queue notification delivery %s; the sweep will", delivery_id)


def _cooldown_claim(*, merchant_id: int, event: str, subject_key: str, now, seconds: int) -> bool:
    """True when (event, subject) was not notified within `seconds`; marks it notified now. Race-safe: a second
    caller waits on the first one's row lock or unique index entry and then sees it taken."""
    key = NotificationCooldown.objects.filter(merchant_id=merchant_id, event=event, subject_key=subject_key)
    if key.filter(last_at__lte=now - timedelta(seconds=seconds)).update(last_at=now):
        return True
    if key.exists():
        return False
    try:
        with transaction.atomic():
            NotificationCooldown.objects.create(merchant_id=merchant_id, event=event, subject_key=subject_key,
                                                last_at=now)
    except IntegrityError:
        return False
    return True


def _safe_path(url: str) -> str:
    """Only a path of this site: never an outside address or a scheme a link could run."""
    url = (url or "").strip()
    return url[:URL_MAX] if url.startswith("/") and not url.startswith("//") else ""


def notify(*, merchant, event: str, subject_key: str, title: str, body: str = "", url: str = "",
           cooldown_seconds: int | None = None) -> Notification | None:
    """Record an event of `merchant` (a NotificationEvent value) about `subject_key` (e.g. "connection:12") for
    the notification centre, with a pending delivery to every enabled robot switched on for the event, queued
    after the caller's transaction commits. Returns the notification, or None when the same (event, subject)
    was notified within the cooldown (NOTIFY_COOLDOWN_SECONDS unless given)."""
    if event not in NotificationEvent.values:
        raise ValueError(f"unknown notification event {event!r}")
    merchant_id = getattr(merchant, "pk", merchant)
    subject_key = str(subject_key)[:100]
    now = timezone.now()
    seconds = settings.NOTIFY_COOLDOWN_SECONDS if cooldown_seconds is None else cooldown_seconds
    with transaction.atomic():
        if not _cooldown_claim(merchant_id=merchant_id, event=event, subject_key=subject_key, now=now,
                               seconds=seconds):
            return None
        notification = Notification.objects.create(
            merchant_id=merchant_id, event=event, subject_key=subject_key, title=str(title)[:TITLE_MAX],
            body=str(body)[:BODY_MAX], url=_safe_path(url), created_at=now)
        channels = [c for c in RobotChannel.objects.filter(merchant_id=merchant_id, is_enabled=True)
                    .only("pk", "events") if event in (c.events or [])]
        # Robot messages go to a group, in the site's language (the workers raising events have no reader).
        deliveries = Delivery.objects.bulk_create([
            Delivery(notification=notification, channel=channel, due_at=now, created_at=now,
                     language=settings.LANGUAGE_CODE)
            for channel in channels
        ])
        for delivery in deliveries:
            transaction.on_commit(partial(delivery_enqueue, delivery.pk))
    return notification


# Reading

def notification_mark_read(*, notification: Notification, user) -> None:
    NotificationRead.objects.bulk_create([NotificationRead(notification=notification, user=user)],
                                         ignore_conflicts=True)


def notifications_mark_all_read(*, merchant, user) -> int:
    """Everything the merchant has notified so far is read for `user`; returns the id read through."""
    newest = Notification.objects.filter(merchant=merchant).aggregate(newest=Max("pk"))["newest"] or 0
    with transaction.atomic():
        cursor, _created = NotificationCursor.objects.select_for_update().get_or_create(user=user)
        if newest > cursor.read_through:
            cursor.read_through = newest
            cursor.updated_at = timezone.now()
            cursor.save(update_fields=["read_through", "updated_at"])
        # Reads older than the cursor say nothing more.
        NotificationRead.objects.filter(user=user, notification_id__lte=cursor.read_through).delete()
    return cursor.read_through


# Robot channels

_url_checks: list[Callable[[str], str]] = []


def webhook_url_check_register(check: Callable[[str], str]) -> None:
    """Add a check of webhook addresses: `check(url)` returns "" when the address may be called, else a problem
    ("scheme", "https", "userinfo", "host", "port", "address"). The sync engine registers its outbound one."""
    if check not in _url_checks:
        _url_checks.append(check)


URL_PROBLEMS = {
    "scheme": lambda: _("Enter an address starting with https://."),
    "https": lambda: _("The address must start with https://, so the robot's token is not sent in the clear."),
    "userinfo": lambda: _("The address must not contain a user name or password."),
    "address": lambda: _("This address is on a local or private network. Enter the robot's public address."),
}


def webhook_url_check(kind: str, url: str) -> None:
    """Raise ValidationError on webhook_url for an address we would not call, or one without the robot's token."""
    parts = urlsplit(url)
    problems = [check(url) for check in _url_checks] or [
        "" if parts.scheme == "https" else "https"]
    problem = next((p for p in problems if p), "")
    if problem:
        message = URL_PROBLEMS.get(problem, lambda: _("Enter a valid address."))()
        raise ValidationError({"webhook_url": message})
    if not webhook_token(kind, url):
        raise ValidationError({"webhook_url": {
            RobotKind.DINGTALK: _("A DingTalk robot address ends in ?access_token=…; copy it whole from the robot's "
                                  "settings."),
            RobotKind.WECOM: _("A WeCom robot address ends in ?key=…; copy it whole from the robot's settings."),
            RobotKind.FEISHU: _("A Feishu bot address ends in /hook/…; copy it whole from the bot's settings."),
        }.get(kind, _("Enter a valid address."))})


def _events(events: Iterable[str]) -> list[str]:
    chosen = set(events or ())
    return [e for e in NotificationEvent.values if e in chosen]


def _audit(channel: RobotChannel, actor: Actor, changes: dict) -> None:
    audit_changes(merchant_id=channel.merchant_id, entity="robot_channel", entity_id=channel.pk, changes=changes,
                  actor=actor)


def robot_channel_create(*, merchant, actor: Actor, name: str, kind: str, webhook_url: str, secret: str = "",
                         events: Iterable[str] = (), is_enabled: bool = True) -> RobotChannel:
    """A new robot of `merchant`. Raises ValidationError (an unknown kind, an address we would not call) or
    PermissionDenied (only owners configure robots)."""
    actor.require(Action.ROBOTS)
    if kind not in RobotKind.values:
        raise ValidationError({"kind": _("Choose a robot.")})
    webhook_url = (webhook_url or "").strip()
    webhook_url_check(kind, webhook_url)
    channel = RobotChannel(merchant=merchant, name=name.strip()[:100], kind=kind, events=_events(events),
                           is_enabled=is_enabled, created_by=actor.user if getattr(actor.user, "pk", None) else None)
    channel.webhook_url = webhook_url
    channel.secret = (secret or "").strip() if kind != RobotKind.WECOM else ""
    with transaction.atomic():
        channel.save()
        _audit(channel, actor, {"created": ("", channel.name), "kind": ("", kind),
                                "events": ("", ", ".join(channel.events)), "enabled": ("", is_enabled)})
    return channel


def robot_channel_update(*, channel: RobotChannel, actor: Actor, name: str, events: Iterable[str],
                         is_enabled: bool, webhook_url: str = "", secret: str = "",
                         clear_secret: bool = False) -> RobotChannel:
    """Change a robot's settings; a blank address or secret keeps the stored one. An address on another host
    needs the signing secret entered again, so a stored secret is never sent where it was not entered for.
    Raises ValidationError or PermissionDenied."""
    actor.require(Action.ROBOTS)
    webhook_url, secret = (webhook_url or "").strip(), (secret or "").strip()
    with transaction.atomic():
        locked = RobotChannel.objects.select_for_update().get(pk=channel.pk)
        changes = {}
        if webhook_url:
            webhook_url_check(locked.kind, webhook_url)
            host = (urlsplit(webhook_url).hostname or "")
            if host != locked.webhook_host and locked.has_secret and not secret and not clear_secret:
                raise ValidationError({"secret": _("A robot address on another host needs the signing secret "
                                                   "entered again.")})
            if webhook_url != locked.webhook_url:
                locked.webhook_url = webhook_url
                changes["webhook"] = ("", _("changed"))
        if locked.kind != RobotKind.WECOM and (secret or clear_secret):
            locked.secret = "" if clear_secret and not secret else secret
            changes["secret"] = ("", _("changed") if secret else _("removed"))
        new_events = _events(events)
        for field, old, new in (("name", locked.name, name.strip()[:100]),
                                ("events", ", ".join(locked.events), ", ".join(new_events)),
                                ("enabled", locked.is_enabled, is_enabled)):
            if old != new:
                changes[field] = (old, new)
        locked.name, locked.events, locked.is_enabled = name.strip()[:100], new_events, is_enabled
        locked.save()
        _audit(locked, actor, changes)
    return locked


def robot_channel_set_enabled(*, channel: RobotChannel, enabled: bool, actor: Actor) -> RobotChannel:
    actor.require(Action.ROBOTS)
    with transaction.atomic():
        if RobotChannel.objects.filter(pk=channel.pk).exclude(is_enabled=enabled).update(is_enabled=enabled):
            _audit(channel, actor, {"enabled": (not enabled, enabled)})
    channel.refresh_from_db()
    return channel


def robot_channel_delete(*, channel: RobotChannel, actor: Actor) -> None:
    """Delete the robot and its delivery records (its notifications stay in the centre)."""
    actor.require(Action.ROBOTS)
    with transaction.atomic():
        _audit(channel, actor, {"deleted": (channel.name, "")})
        channel.delete()


def robot_channel_test(*, channel: RobotChannel, actor: Actor, language: str = "") -> Delivery:
    """Queue a test message to the robot (sent once, not retried); its outcome is written in `language`, the
    requester's. Returns the pending test delivery."""
    actor.require(Action.ROBOTS)
    delivery = Delivery.objects.create(channel=channel, language=(language or translation.get_language()
                                                                  or settings.LANGUAGE_CODE)[:16],
                                       requested_by=actor.user if getattr(actor.user, "pk", None) else None)
    transaction.on_commit(partial(delivery_enqueue, delivery.pk))
    return delivery


def import_outcome_notify(*, job, applied: int = 0, reason: str = "") -> Notification | None:
    """Notify that an import was applied (`applied` rows), or failed with `reason` (given: it failed)."""
    from django.urls import reverse

    names = {"name": job.file_name, "kind": job.get_kind_display()}
    if reason:
        return notify(merchant=job.merchant_id, event=NotificationEvent.IMPORT_FAILED, subject_key=f"import:{job.pk}",
                      title=_("Import of %(name)s (%(kind)s) failed") % names, body=reason,
                      url=reverse("import_detail", args=[job.pk]))
    return notify(merchant=job.merchant_id, event=NotificationEvent.IMPORT_FINISHED, subject_key=f"import:{job.pk}",
                  title=_("Import of %(name)s (%(kind)s) applied") % names,
                  body=_("%(count)d rows applied.") % {"count": applied}, url=reverse("import_detail", args=[job.pk]))
