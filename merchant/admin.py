"""Django admin for platform staff: merchants, users and roles, reference data, the review queue."""
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin

from merchant.changes import settings_changed
from merchant.forms import ThrottledAdminAuthenticationForm
from merchant.models import (
    BaseProduct, Carrier, CustomerGroup, Membership, Merchant, PendingReviewProduct, RegionGroup,
    RegionGroupProvince,
)
from merchant.permissions import Actor
from merchant.services.catalog import product_approve

User = get_user_model()

# Staff see every merchant: their login goes through the same throttle as the back office's, in the admin's look.
admin.site.login_form = ThrottledAdminAuthenticationForm


class MembershipInline(admin.StackedInline):
    model = Membership
    extra = 0


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active", "batch_sync_policy", "created_at"]
    search_fields = ["code", "name"]
    list_filter = ["is_active"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Sellable stock depends on these settings: every product's stock goes out to the marketplaces again.
        if change:
            settings_changed(merchant_id=obj.pk, fields=form.changed_data)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role"]
    list_filter = ["role", "merchant"]
    search_fields = ["user__username", "merchant__code"]
    autocomplete_fields = ["user", "merchant"]


admin.site.unregister(User)


@admin.register(User)
class MerchantUserAdmin(UserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "is_staff", "is_active", "membership"]


@admin.register(BaseProduct)
class BaseProductAdmin(ImportExportModelAdmin):
    list_display = ["id", "name", "barcode", "approval_number", "spec", "manufacturer"]
    search_fields = ["name", "barcode", "approval_number"]


class RegionGroupProvinceInline(admin.TabularInline):
    model = RegionGroupProvince
    extra = 1


@admin.register(RegionGroup)
class RegionGroupAdmin(ImportExportModelAdmin):
    list_display = ["code", "name"]
    inlines = [RegionGroupProvinceInline]


@admin.register(CustomerGroup)
class CustomerGroupAdmin(ImportExportModelAdmin):
    list_display = ["code", "name"]


@admin.register(Carrier)
class CarrierAdmin(ImportExportModelAdmin):
    list_display = ["code", "name", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(PendingReviewProduct)
class ReviewQueueAdmin(admin.ModelAdmin):
    list_display = ["erp_product_id", "name", "merchant", "barcode", "approval_number", "spec", "manufacturer",
                    "stock", "base_product"]
    list_editable = ["base_product"]
    list_filter = ["merchant"]
    search_fields = ["name", "erp_product_id", "barcode"]
    raw_id_fields = ["base_product"]
    actions = ["approve"]
    fields = ["merchant", "erp_product_id", "name", "barcode", "approval_number", "spec", "manufacturer",
              "stock", "base_product"]
    readonly_fields = ["merchant", "erp_product_id", "name", "barcode", "approval_number", "spec",
                       "manufacturer", "stock"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Approve: ready, or listed when in stock"))
    def approve(self, request, queryset):
        actor = Actor.system(user=request.user)
        approved, unmatched = 0, []
        for product in queryset:
            if product.base_product is None:
                unmatched.append(product.erp_product_id)
                continue
            product_approve(product=product, base_product=product.base_product, actor=actor)
            approved += 1
        self.message_user(request, _("%(n)s products approved.") % {"n": approved}, messages.SUCCESS)
        if unmatched:
            self.message_user(
                request, _("Not approved, pick their base product first: %(ids)s") % {"ids": ", ".join(unmatched)},
                messages.WARNING,
            )
