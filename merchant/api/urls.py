from django.urls import path

from . import catalog, openapi, order_query, orders, views

urlpatterns = [
    path("whoami", views.whoami, name="api_whoami"),
    path("openapi.json", openapi.openapi_view, name="api_openapi"),
    *[path(name, view, name=f"api_{name}") for name, view in catalog.VIEWS.items()],
    path("orders", order_query.orders_query, name="api_orders"),
    path("orders/logistics", orders.logistics_upload, name="api_orders_logistics"),
    path("orders/shipments", orders.shipments_upload, name="api_orders_shipments"),
    path("orders/erp-status", orders.erp_status_upload, name="api_orders_erp_status"),
    path("carriers", order_query.carriers, name="api_carriers"),
]
