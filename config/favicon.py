"""/favicon.ico: browsers ask for it on every page that names no icon (the admin, API answers, error pages);
without it each visit logs a 404. The same icon as static/favicon.svg, which base.html links."""
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

ICON = (settings.BASE_DIR / "static" / "favicon.svg").read_bytes()


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    return HttpResponse(ICON, content_type="image/svg+xml")
