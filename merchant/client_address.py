"""The address a request comes from, for throttling: REMOTE_ADDR, or what a trusted reverse proxy says."""
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def _parse(value: str):
    """The address in value (an IPv4-mapped IPv6 address as its IPv4 form), or None if it is not one."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None


def _trusted(address, networks) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, unless that is a trusted proxy (settings.TRUSTED_PROXIES); then the
    right-most X-Forwarded-For entry that is not itself a trusted proxy.

    Only the right end of X-Forwarded-For can be believed: each trusted proxy appends the peer it saw, while
    everything further left was sent by the client and may be invented. Without a trusted proxy in front,
    the header is ignored entirely, or anyone could pick a fresh address for every guess.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    client = _parse(remote)
    if not _trusted(client, networks):
        return str(client) if client is not None else remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _parse(hop)
        if address is None:
            # Not an address: nothing we trust wrote it, so the last trusted hop is the best we know.
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)


@checks.register(checks.Tags.security)
def check_trusted_proxies(app_configs, **kwargs):
    """A mistyped TRUSTED_PROXIES fails `manage.py check` and start-up, not the first login."""
    try:
        _networks(tuple(settings.TRUSTED_PROXIES))
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="merchant.E001")]
    return []
