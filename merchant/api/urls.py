from django.urls import path, re_path

from . import catalog, openapi, order_query, orders, views

urlpatterns = [
    path("whoami", views.whoami, name="api_whoami"),
    path("openapi.json", openapi.openapi_view, name="api_openapi"),
    *[path(name, view, name=f"api_{name}") for name, view in catalog.VIEWS.items()],
    path("orders", order_query.orders_query, name="api_orders"),
    path("orders/takes/<str:take_id>", order_query.order_take, name="api_order_take"),
    path("orders/logistics", orders.logistics_upload, name="api_orders_logistics"),
    path("orders/shipments", orders.shipments_upload, name="api_orders_shipments"),
    path("orders/erp-status", orders.erp_status_upload, name="api_orders_erp_status"),
    path("carriers", order_query.carriers, name="api_carriers"),
    # Last: any other /api/v1/ path is answered with the JSON error envelope.
    re_path(r"^.*$", views.not_found, name="api_not_found"),
]
