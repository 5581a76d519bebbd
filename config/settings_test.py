"""Settings for the test suite: the real settings with test-only secrets and fast password hashing."""
import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")


def worker_redis_url(url: str, worker: str) -> str:
    """The Redis URL one pytest-xdist worker uses: worker gwN takes database number (that of `url`) + N, so
    workers sharing one server never see each other's queues, budgets or locks. Without xdist it is `url`."""
    if not worker:
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = base + int(worker.removeprefix("gw"))
    if number > 15:  # Redis has databases 0-15 unless configured otherwise
        raise RuntimeError(f"pytest-xdist worker {worker} needs Redis database {number} (from {url}); "
                           "run fewer workers or point REDIS_URL at a lower database number")
    return urlunsplit(parts._replace(path=f"/{number}"))


# The first time (pytest's process) keeps the URL it was given, so processes the tests start, which inherit
# both variables, land on the same worker database instead of shifting once more.
_base_redis_url = os.environ.setdefault("MH_TEST_BASE_REDIS_URL",
                                        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
os.environ["REDIS_URL"] = worker_redis_url(_base_redis_url, os.environ.get("PYTEST_XDIST_WORKER", ""))

from .settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each test process counts failed logins on its own.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SANDBOX_ENABLED = True
METRICS_TOKEN = "test-metrics-token"
SYNC_RETRY_BASE_SECONDS = 0.01
# The discard port the tests use as an unreachable gateway; the live server's address is allowed per test
# (tests/conftest.py, live_server).
OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:9"]
