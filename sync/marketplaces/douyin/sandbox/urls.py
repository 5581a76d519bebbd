from django.urls import path

from . import gateway

urlpatterns = [
    # Every method is a path under the gateway, as on openapi-fxg.jinritemai.com (/order/searchList, ...).
    path("douyin/<path:method_path>", gateway.serve, name="sandbox_douyin_gateway"),
]
