"""Requests per API key: at most API_RATE_LIMIT in each API_RATE_WINDOW seconds (a fixed window on the clock),
counted in the shared cache so every web process sees the same count. Past it, 429 `rate_limited` with
Retry-After: the seconds until the window ends. Counted after the signature is checked, so nobody can use up
an ERP's allowance with forged requests."""
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from .auth import ApiError


def rate_limit_check(credential, now: float | None = None) -> None:
    limit, window = settings.API_RATE_LIMIT, settings.API_RATE_WINDOW
    if not limit:
        return
    now = time.time() if now is None else now
    slot = int(now // window)
    key = f"api-rate:{credential.key}:{slot}"  # the key, not the row id: ids are reused, keys never
    cache.add(key, 0, window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window + 5)
        count = 1
    if count > limit:
        retry_after = max(1, int((slot + 1) * window - now + 0.999))
        raise ApiError(429, "rate_limited", _("more than %(limit)s requests in %(window)s s with this key; retry "
                                              "after %(seconds)s s") % {"limit": limit, "window": window,
                                                                          "seconds": retry_after},
                       retry_after=retry_after)
