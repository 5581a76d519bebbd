from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderListPreference(models.Model):
    """How one user likes the orders list: columns shown, sort, page size (SPEC M14)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="order_list_pref")
    columns = models.JSONField(_("columns"), default=list)
    sort = models.CharField(_("sort"), max_length=20, blank=True)
    page_size = models.PositiveSmallIntegerField(_("page size"), default=50)

    class Meta:
        verbose_name = _("orders list preference")
        verbose_name_plural = _("orders list preferences")

    def __str__(self):
        return f"{self.user_id}: {self.sort} / {self.page_size}"


class SavedOrderView(models.Model):
    """A user's named filters + search on the orders list, shown as a tab of their own."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_order_views")
    name = models.CharField(_("name"), max_length=40)
    # The list's query string without page/sort/size: filters, search and tab.
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="uniq_saved_order_view")]

    def __str__(self):
        return self.name
