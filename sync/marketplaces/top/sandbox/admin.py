"""Django admin for the sandbox marketplace: shops and their fault switches, and a look at its state."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import SandboxCall, SandboxItem, SandboxMessage, SandboxRefund, SandboxShop, SandboxSku, SandboxTrade


@admin.register(SandboxShop)
class SandboxShopAdmin(admin.ModelAdmin):
    list_display = [
        "nick", "app_key", "tmc_enabled", "demo_activity", "session_expired", "error_rate", "drop_rate",
        "slow_rate", "malformed_rate", "ban_calls_per_minute", "move_on_page_rate",
    ]
    list_filter = ["tmc_enabled", "demo_activity", "session_expired"]
    search_fields = ["nick", "app_key"]
    fieldsets = [
        (None, {"fields": ["nick", "user_id", "app_key", "app_secret", "session", "session_expired"]}),
        (_("Messages and demo"), {
            "fields": ["tmc_enabled", "redeliver_after_seconds", "demo_activity", "buyer_message_rate"],
        }),
        (_("Faults"), {"fields": [
            "error_rate", "drop_rate", ("slow_rate", "slow_seconds"), "malformed_rate",
            ("ban_calls_per_minute", "ban_seconds"), "banned_until", ("move_on_page_rate", "move_count"),
            "fail_next", "ban_next_seconds",
        ]}),
    ]


class SandboxSkuInline(admin.TabularInline):
    model = SandboxSku
    extra = 0


@admin.register(SandboxItem)
class SandboxItemAdmin(admin.ModelAdmin):
    list_display = ["num_iid", "outer_id", "title", "price", "quantity", "approve_status", "modified", "shop"]
    list_filter = ["approve_status", "shop"]
    search_fields = ["outer_id", "title"]
    inlines = [SandboxSkuInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """State changes go through the marketplace functions, which also publish the messages."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SandboxTrade)
class SandboxTradeAdmin(ReadOnlyAdmin):
    list_display = ["tid", "shop", "status", "type", "created", "modified"]
    list_filter = ["status", "type", "shop"]
    search_fields = ["=tid"]
    date_hierarchy = "created"


@admin.register(SandboxRefund)
class SandboxRefundAdmin(ReadOnlyAdmin):
    list_display = ["refund_id", "tid", "oid", "status", "refund_fee", "modified", "shop"]
    list_filter = ["status", "shop"]
    search_fields = ["=refund_id", "=tid"]


@admin.register(SandboxMessage)
class SandboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "topic", "pub_time", "delivered_at", "confirmed_at"]
    list_filter = ["topic", "shop"]


@admin.register(SandboxCall)
class SandboxCallAdmin(ReadOnlyAdmin):
    list_display = ["at", "shop", "method", "outcome", "code"]
    list_filter = ["outcome", "method", "shop"]
