"""Login with throttling: too many failures for one username or one address are refused for a while."""
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.utils.translation import gettext as _


def _keys(request, username: str) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "")
    return [f"login-fail:user:{username.lower()}", f"login-fail:addr:{address}"]


class ThrottledLoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        if any(cache.get(key, 0) >= settings.LOGIN_THROTTLE_LIMIT for key in _keys(request, username)):
            # An unbound form: the password is not even checked while throttled.
            form = self.get_form_class()(request)
            context = self.get_context_data(
                form=form, throttled=_("Too many failed logins. Wait a few minutes and try again.")
            )
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in _keys(self.request, self.request.POST.get("username", "")):
            cache.add(key, 0, settings.LOGIN_THROTTLE_WINDOW)
            cache.incr(key)
        return super().form_invalid(form)
