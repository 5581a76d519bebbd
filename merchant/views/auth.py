"""Login and password change under the one login throttle (merchant/services/login_throttle.py).

The throttle lives in the forms (merchant/forms.py), so the Django admin's own login uses it too
(merchant/admin.py sets admin.site.login_form); these views only add the 429 answer.
"""
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from merchant.forms import ThrottledAdminPasswordChangeForm, ThrottledAuthenticationForm, ThrottledPasswordChangeForm


def _refused_status(form, response):
    """A throttled answer says so in its status, and how long to wait when that is known."""
    refusal = getattr(form, "throttle_refusal", None)
    if refusal is not None:
        response.status_code = 429
        response["Retry-After"] = str(refusal.seconds or settings.LOGIN_THROTTLE_WINDOW)
    return response


class ThrottledLoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        return _refused_status(form, super().form_invalid(form))


class ThrottledPasswordChangeView(auth_views.PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_invalid(self, form):
        return _refused_status(form, super().form_invalid(form))


class AdminPasswordChangeView(ThrottledPasswordChangeView):
    """What admin.site.password_change does (its form, context and done page), with the throttled form:
    the admin offers no setting for that form, so config/urls.py routes its URL here."""

    form_class = ThrottledAdminPasswordChangeForm
    success_url = reverse_lazy("admin:password_change_done")

    def dispatch(self, request, *args, **kwargs):
        request.current_app = admin.site.name
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}
