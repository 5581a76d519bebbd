from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    OPERATOR = "operator", _("Operator")
    VIEWER = "viewer", _("Viewer")


class BatchSyncPolicy(models.TextChoices):
    ALL_ON_SALE = "all", _("All on-sale batches")
    LATEST = "latest", _("Latest batch only")
    LARGEST = "largest", _("Largest-stock batch only")


class PresaleHandoff(models.TextChoices):
    """When a presale order goes to the ERP (SPEC S10)."""

    BALANCE = "balance", _("Once the balance is paid")
    DEPOSIT = "deposit", _("Already at deposit, marked presale")


class Merchant(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    batch_sync_policy = models.CharField(
        _("batch sync policy"), max_length=10, choices=BatchSyncPolicy.choices, default=BatchSyncPolicy.ALL_ON_SALE
    )
    safety_stock = models.PositiveIntegerField(_("safety stock"), default=0)
    expiry_exclusion_days = models.PositiveIntegerField(
        _("exclude batches expiring within (days)"), default=0
    )
    low_stock_threshold = models.PositiveIntegerField(_("low stock threshold"), default=10)
    # The exception queue's clocks (SPEC M14): how long an order may wait at each step before it needs someone.
    exception_take_hours = models.PositiveIntegerField(_("hours a paid order may wait for the ERP"), default=4)
    exception_ship_hours = models.PositiveIntegerField(_("hours a taken order may wait to ship"), default=48)
    logistics_stall_hours = models.PositiveIntegerField(_("hours without tracking progress"), default=72)
    # Purchase suggestions (采购建议): the supplier's lead time, how often the merchant orders, and a cushion of
    # safety stock counted in days of forecast sales (so it grows and shrinks with each product's demand).
    replenish_lead_days = models.PositiveSmallIntegerField(_("purchase lead time (days)"), default=7)
    replenish_review_days = models.PositiveSmallIntegerField(_("days between purchase orders"), default=7)
    replenish_safety_days = models.PositiveSmallIntegerField(_("purchase safety stock (days of sales)"), default=3)
    presale_handoff = models.CharField(
        _("hand presale orders to the ERP"), max_length=10, choices=PresaleHandoff.choices,
        default=PresaleHandoff.BALANCE,
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Membership(models.Model):
    """A user's place in one merchant; a user belongs to at most one merchant."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} @ {self.merchant.code} ({self.role})"
