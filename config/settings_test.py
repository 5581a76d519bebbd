"""Settings for the test suite: the real settings with test-only secrets and fast password hashing."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

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
