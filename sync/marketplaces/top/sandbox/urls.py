from django.urls import path

from . import gateway

urlpatterns = [
    path("top/router/rest", gateway.router_rest, name="sandbox_top_router"),
]
