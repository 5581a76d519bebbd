from django.urls import path

from merchant.views import customers, dashboard, exports, orders, products, switches, team

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("products/", products.product_list, name="product_list"),
    path("products/<int:pk>/", products.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", products.product_edit, name="product_edit"),
    path("products/<int:pk>/stock/", products.product_stock, name="product_stock"),
    path("products/<int:pk>/listing/", products.product_listing, name="product_listing"),
    path("products/<int:pk>/prices/", products.group_price_add, name="group_price_add"),
    path("products/<int:pk>/prices/<int:price_pk>/delete/", products.group_price_delete, name="group_price_delete"),
    path("products/<int:pk>/batches/", products.batch_save, name="batch_add"),
    path("products/<int:pk>/batches/<int:batch_pk>/", products.batch_save, name="batch_edit"),
    path("products/<int:pk>/batches/<int:batch_pk>/delete/", products.batch_delete, name="batch_delete"),
    path("products/<int:pk>/switch/", products.product_switch, name="product_switch"),
    path("customers/", customers.customer_list, name="customer_list"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/erp-code/", customers.customer_erp_code, name="customer_erp_code"),
    path("orders/", orders.order_list, name="order_list"),
    path("orders/export/", exports.order_export, name="order_export"),
    path("orders/<int:pk>/", orders.order_detail, name="order_detail"),
    path("orders/<int:pk>/status/", orders.order_status, name="order_status"),
    path("orders/<int:pk>/logistics/", orders.order_logistics, name="order_logistics"),
    path("orders/<int:pk>/shipment/", orders.order_shipment, name="order_shipment"),
    path("orders/<int:pk>/erp-status/", orders.order_erp_status, name="order_erp_status"),
    path("switches/", switches.switch_overview, name="switches"),
    path("switches/module/", switches.module_switch, name="module_switch"),
    path("switches/sku/<int:pk>/resume/", switches.sku_switch_resume, name="sku_switch_resume"),
    path("team/", team.team, name="team"),
    path("team/<int:pk>/role/", team.member_role, name="member_role"),
]
