"""Django admin for the sandbox ERP bridge: its fault switches, its change log and the orders it received."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import SandboxErp, SandboxErpChange, SandboxErpOrder


@admin.register(SandboxErp)
class SandboxErpAdmin(admin.ModelAdmin):
    list_display = ["name", "app_key", "demo_activity", "unauthorized", "error_rate", "slow_rate", "malformed_rate"]
    list_filter = ["demo_activity", "unauthorized"]
    search_fields = ["name", "app_key"]
    fieldsets = [
        (None, {"fields": ["name", "app_key", "app_secret", "demo_activity", "unsupported_kinds",
                           "refuse_products", "oldest_cursor"]}),
        (_("Faults"), {"fields": [
            "unauthorized", "error_rate", ("slow_rate", "slow_seconds"), "malformed_rate",
            "fail_next", "slow_next", "malformed_next", "rate_limit_next_seconds", "rate_limited_until",
        ]}),
    ]


@admin.register(SandboxErpChange)
class SandboxErpChangeAdmin(admin.ModelAdmin):
    list_display = ["id", "erp", "kind", "item", "at"]
    list_filter = ["kind", "erp"]


@admin.register(SandboxErpOrder)
class SandboxErpOrderAdmin(admin.ModelAdmin):
    list_display = ["order_no", "erp", "received_at"]
    list_filter = ["erp"]
    search_fields = ["order_no"]
