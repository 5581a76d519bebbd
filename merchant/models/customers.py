from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from merchant.validators import validate_uscc

from .audit import AuditSource


class Customer(models.Model):
    """A platform customer (a buyer business); merchants attach their own ERP codes to it."""

    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(
        _("unified social credit code"), max_length=18, unique=True, validators=[validate_uscc]
    )
    contact = models.CharField(_("contact"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    province = models.CharField(_("province"), max_length=30, blank=True)
    customer_group = models.ForeignKey(
        "merchant.CustomerGroup", null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("customer group")
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("customer_detail", args=[self.pk])


class ErpCustomerCode(models.Model):
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="erp_customer_codes")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="erp_codes")
    code = models.CharField(_("ERP customer code"), max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ERP customer code")
        verbose_name_plural = _("ERP customer codes")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "customer"], name="uniq_erp_code_customer"),
            models.UniqueConstraint(fields=["merchant", "code"], name="uniq_erp_code_value"),
        ]

    def __str__(self):
        return self.code


class UnmatchedErpCustomerQuerySet(models.QuerySet):
    def listed_for(self, merchant):
        """The merchant's unmatched ERP customers, newest first, leaving out those matched since by another
        path (an import or a code typed in: the customer with that USCC now has this merchant's code)."""
        coded = ErpCustomerCode.objects.filter(merchant=merchant, customer__uscc=models.OuterRef("uscc"))
        return self.filter(merchant=merchant).exclude(models.Exists(coded)).order_by("-received_at", "-pk")


class UnmatchedErpCustomer(models.Model):
    """A customer the merchant's ERP sent whose USCC matches no platform customer (SPEC M9, scheme 2).

    Listed on the customers page so the merchant can have the customer added or the ERP's USCC fixed; the
    latest push per USCC wins, and the row goes when a later push matches that USCC.
    """

    merchant = models.ForeignKey(
        "merchant.Merchant", on_delete=models.CASCADE, related_name="unmatched_erp_customers"
    )
    uscc = models.CharField(_("unified social credit code"), max_length=18)
    erp_customer_code = models.CharField(_("ERP customer code"), max_length=64, blank=True)
    customer_name = models.CharField(_("name"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=12, choices=AuditSource.choices)
    received_at = models.DateTimeField(_("received"))

    objects = UnmatchedErpCustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("unmatched ERP customer")
        verbose_name_plural = _("unmatched ERP customers")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "uscc"], name="uniq_unmatched_erp_customer"),
        ]
        indexes = [models.Index(fields=["merchant", "-received_at"], name="unmatched_customer_recent_idx")]

    def __str__(self):
        return f"{self.uscc} {self.customer_name}".strip()
