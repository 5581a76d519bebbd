"""Retrying one outbound call the way every connector does: a ban (RateLimited) is waited out and is not a
failure; other Retryable failures are retried with jittered exponential backoff."""
import logging
import random
import time

from django.conf import settings

from .errors import RateLimited, Retryable

log = logging.getLogger(__name__)


def with_retry(attempt, what: str, *, connection_id: int, sleep, attempts: int = 6, max_ban_wait: float = 600.0):
    """attempt() until it succeeds. Bans are waited out for up to max_ban_wait seconds in all (the call budget
    holds the ban, so the next attempt waits for its end); other retryable failures are re-raised after
    `attempts` of them."""
    failures = 0
    started = time.monotonic()
    while True:
        try:
            return attempt()
        except RateLimited as exc:
            if time.monotonic() - started > max_ban_wait:
                raise
            log.info("%s: asked to wait %s s (connection %s)", what, exc.seconds, connection_id)
        except Retryable as exc:
            failures += 1
            if failures >= attempts:
                raise
            delay = min(30.0, settings.SYNC_RETRY_BASE_SECONDS * 2 ** (failures - 1)) * (0.5 + random.random() / 2)
            log.info("%s failed (%s); retry %s in %.1f s", what, exc, failures, delay)
            sleep(delay)
