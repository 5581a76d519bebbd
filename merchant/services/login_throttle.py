"""The one login throttle: every form that checks a password (back-office login, Django admin login,
password changes) asks it before checking and tells it the outcome after.

Two counters in the shared cache (Redis in production, so all web processes see the same counts):

- per username, keyed on the name exactly as the login form normalises it (strip, NFKC) and casefolded, so
  "demo_viewer ", a tab or full-width letters all spend the same guesses: over LOGIN_THROTTLE_LIMIT
  failures in LOGIN_THROTTLE_WINDOW seconds (a fixed window from the first failure), the password is not
  checked at all until the window ends;
- per client address: never a lockout, since one office behind a NAT or proxy shares an address. Past the
  limit, each attempt from that address must come a while after its last failure (1 s, doubling with every
  further failure, at most LOGIN_THROTTLE_MAX_DELAY); an attempt let through is checked normally, so a
  colleague's correct password still logs in. The count slides: it ends a window after the last failure.

Attempts are counted before the password is checked (and the count undone when it was right), and past the
address limit one attempt at a time claims the slot after the last failure: otherwise a burst of parallel
requests would all read the old counts and each get a guess. Nothing here sleeps: a refusal is answered at
once with how long to wait, so a web thread is never held.
"""
import ipaddress
import math
import time
import unicodedata
from dataclasses import dataclass
from hashlib import sha256

from django.conf import settings
from django.core.cache import cache

# How long an attempt let through past the address limit holds its slot at most (a password check takes
# well under a second; the claim only lapses on its own if the request died in between).
SLOT_CLAIM_SECONDS = 30


class LoginThrottled(Exception):
    """Refused without checking the password. seconds: how long the address must wait, or None when the
    username itself is locked for the rest of its window."""

    def __init__(self, *, seconds: int | None):
        super().__init__(seconds)
        self.seconds = seconds


@dataclass(frozen=True)
class Attempt:
    name_key: str
    address_key: str
    last_failure_key: str
    slot_key: str | None


def _now() -> float:
    return time.time()


def normalise_login_name(username: str) -> str:
    """The name as Django's login form reads it (strip, then NFKC), casefolded: one counter for all its forms."""
    return unicodedata.normalize("NFKC", (username or "").strip()).casefold()


def _address_bucket(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if parsed.version == 6:
        # One subscriber gets a whole /64 and can pick a fresh address inside it for every guess.
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _bump(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def _undo(key: str) -> None:
    try:
        cache.decr(key)
    except ValueError:  # already expired: nothing to undo
        pass


def _address_delay(failures: int) -> float:
    """Seconds an attempt must come after the last failure, after `failures` failures from the address."""
    limit = settings.LOGIN_THROTTLE_LIMIT
    if failures < limit:
        return 0.0
    return float(min(settings.LOGIN_THROTTLE_MAX_DELAY, 2 ** min(failures - limit, 30)))


def login_attempt_begin(*, username: str, address: str) -> Attempt:
    """Reserve one password check for username from address; returns the attempt to pass to
    login_attempt_end. Raises LoginThrottled (nothing may be checked) while the name is locked or the
    address must wait."""
    limit, window = settings.LOGIN_THROTTLE_LIMIT, settings.LOGIN_THROTTLE_WINDOW
    name_key = "login-fail:name:" + sha256(normalise_login_name(username).encode()).hexdigest()
    bucket = _address_bucket(address)
    address_key, last_failure_key = f"login-fail:addr:{bucket}", f"login-last:addr:{bucket}"

    if _bump(name_key, window) > limit:
        # The name's window is fixed at its first failure, so this extra count changes nothing.
        raise LoginThrottled(seconds=None)
    failures = _bump(address_key, window) - 1  # failures (and checks in flight) before this attempt
    slot_key = None
    if failures >= limit:
        last_failure = cache.get(last_failure_key) or 0.0
        wait = last_failure + _address_delay(failures) - _now()
        if wait <= 0:
            slot_key = f"login-slot:addr:{bucket}:{last_failure}"
            if not cache.add(slot_key, 1, SLOT_CLAIM_SECONDS):
                slot_key, wait = None, 1.0  # another attempt from this address is being checked
        if slot_key is None:
            # Nothing was tried: a colleague waiting behind the same NAT must not spend the name's guesses.
            _undo(address_key)
            _undo(name_key)
            raise LoginThrottled(seconds=max(1, math.ceil(wait)))
    return Attempt(name_key=name_key, address_key=address_key, last_failure_key=last_failure_key, slot_key=slot_key)


def login_attempt_end(*, attempt: Attempt, password_ok: bool) -> None:
    """Settle an attempt: a wrong password stays counted (and restarts the address's wait and window); a
    right one is uncounted again."""
    if password_ok:
        _undo(attempt.name_key)
        _undo(attempt.address_key)
    else:
        window = settings.LOGIN_THROTTLE_WINDOW
        cache.touch(attempt.address_key, window)
        cache.set(attempt.last_failure_key, _now(), window)
    if attempt.slot_key:
        # Free the slot at once: after a success the next person behind the same address need not wait;
        # after a failure the next slot is keyed on the new last failure anyway.
        cache.delete(attempt.slot_key)
