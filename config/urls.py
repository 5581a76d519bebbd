from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from config.favicon import favicon
from merchant.api.views import not_found as api_not_found
from merchant.views.auth import AdminPasswordChangeView, ThrottledLoginView, ThrottledPasswordChangeView
from sync.metrics import metrics

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", ThrottledPasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Ahead of admin.site.urls, which would serve this URL with an unthrottled form (its login is throttled
    # through admin.site.login_form, see merchant/admin.py).
    path("admin/password_change/", admin.site.admin_view(AdminPasswordChangeView.as_view()),
         name="admin_password_change"),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("merchant.api.urls")),
    path("", include("merchant.urls")),
    # After the back office (its reference page is /api/docs/): any other /api/ path answers JSON, not HTML.
    re_path(r"^api/(?!docs$)", api_not_found),  # /api/docs still redirects to /api/docs/ (APPEND_SLASH)
]

if settings.SANDBOX_ENABLED:
    from sync.marketplaces.top.sandbox.gateway import router_rest

    urlpatterns.insert(0, path("sandbox/", include("sync.marketplaces.top.sandbox.urls")))
    # The official TOP SDKs post to the gateway's own path, /router/rest, with no way to add a prefix.
    urlpatterns.insert(0, path("router/rest", router_rest, name="sandbox_top_router_sdk"))
    urlpatterns.insert(1, path("sandbox/", include("sync.erp.sandbox.urls")))
    # The sandbox Douyin shop: base URL .../sandbox/douyin, each method at its own path as on the platform.
    urlpatterns.insert(2, path("sandbox/", include("sync.marketplaces.douyin.sandbox.urls")))
