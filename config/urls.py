from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from merchant.views.auth import ThrottledLoginView
from sync.metrics import metrics

urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("merchant.api.urls")),
    path("", include("merchant.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.insert(0, path("sandbox/", include("sync.sandbox.urls")))
    urlpatterns.insert(1, path("sandbox/", include("sync.sandbox_erp.urls")))
