from django.urls import path

from . import bridge

# Mounted at /sandbox/: the bridge's base URL is {server}/sandbox/erp.
urlpatterns = [
    path("erp/ping", bridge.ping, name="sandbox_erp_ping"),
    path("erp/changes/<str:kind>", bridge.changes, name="sandbox_erp_changes"),
    path("erp/orders", bridge.orders, name="sandbox_erp_orders"),
]
