"""Django admin for the sandbox Douyin shop: shops and their fault switches, and a look at its state."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import (
    DouyinAfterSale, DouyinCall, DouyinIdempotentId, DouyinOrder, DouyinProduct, DouyinPushMessage, DouyinShop,
    DouyinSku, DouyinSkuOrder,
)


@admin.register(DouyinShop)
class DouyinShopAdmin(admin.ModelAdmin):
    list_display = ["shop_name", "app_key", "shop_id", "push_enabled", "demo_activity", "error_rate", "drop_rate",
                    "slow_rate", "malformed_rate", "ban_calls_per_minute", "move_on_page_rate", "index_lag_seconds"]
    list_filter = ["push_enabled", "demo_activity"]
    search_fields = ["shop_name", "app_key"]
    readonly_fields = ["access_token", "access_expires_at", "refresh_token", "refresh_expires_at",
                       "previous_access_token", "previous_valid_until"]
    fieldsets = [
        (None, {"fields": ["shop_name", "shop_id", "app_key", "app_secret"]}),
        (_("Tokens"), {"fields": [("access_token", "access_expires_at"), ("refresh_token", "refresh_expires_at"),
                                  ("previous_access_token", "previous_valid_until")]}),
        (_("Push messages and demo"), {"fields": ["push_enabled", "callback_url", "push_drop_rate", "demo_activity"]}),
        (_("Faults"), {"fields": [
            "error_rate", "drop_rate", ("slow_rate", "slow_seconds"), "malformed_rate",
            ("ban_calls_per_minute", "ban_seconds"), "banned_until", ("move_on_page_rate", "move_count"),
            "index_lag_seconds", "expire_token_next", "fail_next",
        ]}),
    ]


class DouyinSkuInline(admin.TabularInline):
    model = DouyinSku
    extra = 0


@admin.register(DouyinProduct)
class DouyinProductAdmin(admin.ModelAdmin):
    list_display = ["product_id", "name", "online", "modified", "shop"]
    list_filter = ["online", "shop"]
    search_fields = ["name", "skus__code"]
    inlines = [DouyinSkuInline]


class DouyinSkuOrderInline(admin.TabularInline):
    model = DouyinSkuOrder
    extra = 0


@admin.register(DouyinOrder)
class DouyinOrderAdmin(admin.ModelAdmin):
    list_display = ["shop_order_id", "status", "create_time", "update_time", "pay_amount", "shop"]
    list_filter = ["status", "shop"]
    search_fields = ["shop_order_id", "sku_orders__code"]
    inlines = [DouyinSkuOrderInline]


@admin.register(DouyinAfterSale)
class DouyinAfterSaleAdmin(admin.ModelAdmin):
    list_display = ["aftersale_id", "aftersale_type", "aftersale_status", "refund_status", "refund_amount",
                    "update_time", "shop"]
    list_filter = ["aftersale_status", "shop"]
    search_fields = ["aftersale_id", "order__shop_order_id"]


@admin.register(DouyinPushMessage)
class DouyinPushMessageAdmin(admin.ModelAdmin):
    list_display = ["msg_id", "tag", "created_at", "attempts", "next_at", "delivered_at", "dropped", "shop"]
    list_filter = ["tag", "dropped", "shop"]
    search_fields = ["msg_id", "data"]


@admin.register(DouyinIdempotentId)
class DouyinIdempotentIdAdmin(admin.ModelAdmin):
    list_display = ["idempotent_id", "sku_id", "stock_num", "incremental", "at", "shop"]
    search_fields = ["idempotent_id"]


@admin.register(DouyinCall)
class DouyinCallAdmin(admin.ModelAdmin):
    list_display = ["method", "at", "outcome", "code", "shop"]
    list_filter = ["outcome", "method", "shop"]
