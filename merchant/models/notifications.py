"""Notifications (SPEC M15): what happened, for every member of the merchant to read in the back office, and its
delivery to the merchant's group-chat robots (DingTalk, WeCom, Feishu). The database is the truth of what was
sent: a delivery is pending until a worker records it sent or failed, and a sweep takes up the ones whose job
was lost."""
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchant import secrets


class NotificationEvent(models.TextChoices):
    CONNECTION_STOPPED = "connection_stopped", _("A connection stopped")
    BREAKER_OPENED = "breaker_opened", _("A connection's circuit breaker opened")
    PUSH_FAILED = "push_failed", _("A push to a marketplace failed for good")
    LOW_STOCK = "low_stock", _("Stock at or below the low-stock threshold")
    BATCH_EXPIRING = "batch_expiring", _("Batches entering the expiry window")
    LOGISTICS_STALLED = "logistics_stalled", _("Shipments without tracking progress for 72 hours")
    ERP_REJECTED = "erp_rejected", _("The ERP rejected orders")
    IMPORT_FINISHED = "import_finished", _("An import was applied")
    IMPORT_FAILED = "import_failed", _("An import failed")
    ORDER_EXCEPTIONS = "order_exceptions", _("New order exceptions")
    ANSWER_ANOMALY = "answer_anomaly", _("A marketplace or the ERP answered in an unusual way")


class Notification(models.Model):
    """One event of one merchant. Every member reads it in the notification centre; each has their own read
    state (NotificationRead, NotificationCursor)."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(_("event"), max_length=24, choices=NotificationEvent.choices)
    # What the event is about (e.g. "connection:12", "product:345"): with the event, the key of the cooldown.
    subject_key = models.CharField(max_length=100)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    # A path in the back office where the reader can act (never an outside address).
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [
            # The bell counts, and the centre lists, a merchant's newest notifications.
            models.Index(fields=["merchant", "-id"], name="notification_recent_idx"),
            models.Index(fields=["created_at"], name="notification_created_idx"),
        ]

    def __str__(self):
        return f"{self.merchant_id}/{self.event} {self.subject_key}"


class NotificationRead(models.Model):
    """A user read one notification (newer than their cursor)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "notification"], name="uniq_notification_read")]

    def __str__(self):
        return f"{self.user_id} read {self.notification_id}"


class NotificationCursor(models.Model):
    """"Mark all read" for one user: every notification up to `read_through` (an id) is read, so marking all read
    is one write however many there are."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="+")
    read_through = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.user_id} read through {self.read_through}"


class NotificationCooldown(models.Model):
    """When an (event, subject) of a merchant was last notified: the same one is not notified again within the
    cooldown. The unique constraint is what holds it when two workers raise the same event at once."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=24, choices=NotificationEvent.choices)
    subject_key = models.CharField(max_length=100)
    last_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "event", "subject_key"],
                                               name="uniq_notification_cooldown")]
        indexes = [models.Index(fields=["last_at"], name="notification_cooldown_at_idx")]

    def __str__(self):
        return f"{self.merchant_id}/{self.event} {self.subject_key} @ {self.last_at}"


class NotificationCondition(models.Model):
    """A condition the periodic scan found and notified (a product at low stock, a batch in its expiry window, a
    stalled shipment): kept while it lasts, so the scan notifies when it starts, not on every run."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=24, choices=NotificationEvent.choices)
    subject_key = models.CharField(max_length=100)
    since = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "event", "subject_key"],
                                               name="uniq_notification_condition")]

    def __str__(self):
        return f"{self.merchant_id}/{self.event} {self.subject_key} since {self.since}"


class RobotKind(models.TextChoices):
    DINGTALK = "dingtalk", _("DingTalk group robot")
    WECOM = "wecom", _("WeCom group robot")
    FEISHU = "feishu", _("Feishu group bot")


# Where each vendor's webhook address carries its token: a query parameter, or the last path segment.
TOKEN_QUERY = {RobotKind.DINGTALK: "access_token", RobotKind.WECOM: "key"}


def webhook_token(kind: str, url: str) -> str:
    """The robot's token in its webhook address ("" when there is none)."""
    parts = urlsplit(url or "")
    if kind in TOKEN_QUERY:
        return (parse_qs(parts.query).get(TOKEN_QUERY[kind]) or [""])[0]
    return parts.path.rstrip("/").rpartition("/")[2]


class RobotChannel(models.Model):
    """A group-chat robot of the merchant that receives the events it is switched on for. The webhook address
    holds the robot's token, so it is a secret like the signing secret: both are stored encrypted, never shown
    (a page shows the host and the token's last four characters) and never logged."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="robot_channels")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("robot"), max_length=10, choices=RobotKind.choices)
    webhook_url_encrypted = models.TextField(editable=False)
    webhook_host = models.CharField(_("host"), max_length=255, editable=False)
    token_hint = models.CharField(max_length=4, blank=True, editable=False)
    secret_encrypted = models.TextField(editable=False, blank=True)
    # The NotificationEvent values this robot receives.
    events = models.JSONField(_("events"), default=list, blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("robot channel")
        verbose_name_plural = _("robot channels")
        ordering = ["merchant", "name", "id"]
        indexes = [models.Index(fields=["merchant", "is_enabled"], name="robotchannel_enabled_idx")]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def get_absolute_url(self):
        return reverse("robot_channel_edit", args=[self.pk])

    @property
    def webhook_url(self) -> str:
        return secrets.decrypt(self.webhook_url_encrypted)

    @webhook_url.setter
    def webhook_url(self, value: str) -> None:
        self.webhook_url_encrypted = secrets.encrypt(value)
        self.webhook_host = (urlsplit(value).hostname or "")[:255]
        self.token_hint = webhook_token(self.kind, value)[-4:]

    @property
    def secret(self) -> str:
        return secrets.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secrets.encrypt(value)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def event_labels(self) -> list[str]:
        labels = dict(NotificationEvent.choices)
        return [labels[e] for e in NotificationEvent.values if e in self.events]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """One notification to one robot, or one "send test" (no notification). A worker claims it by moving
    `due_at` past its in-flight time, so a pending delivery whose due time passed has no live worker: the sweep
    queues it again."""

    notification = models.ForeignKey(Notification, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="deliveries")
    channel = models.ForeignKey(RobotChannel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(_("status"), max_length=8, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    due_at = models.DateTimeField(default=timezone.now)
    claim_token = models.CharField(max_length=32, blank=True)
    # Why it failed (the last attempt, while pending), in words, in `language`.
    error = models.CharField(_("reason"), max_length=300, blank=True)
    language = models.CharField(max_length=16, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="uniq_delivery",
                                               condition=Q(notification__isnull=False))]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="delivery_due_idx"),
            models.Index(fields=["channel", "-created_at"], name="delivery_recent_idx"),
        ]

    def __str__(self):
        return f"{self.channel_id}/{self.notification_id or 'test'} {self.status}"

    @property
    def is_test(self) -> bool:
        return self.notification_id is None
