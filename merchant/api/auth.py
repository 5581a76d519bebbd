"""Authenticating an Open API request: key, timestamp window, signature, then the nonce (recorded only
for a correctly signed request, so nobody can burn an ERP's nonces with forged requests)."""
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import ApiCredential, ApiNonce

from . import signing

WINDOW = timedelta(minutes=5)
NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
STAMP = re.compile(r"[0-9]{1,12}")


@dataclass
class ApiError(Exception):
    """An answer with a stable `code` (clients branch on it), an HTTP status and a readable message."""

    status: int
    code: str
    message: str
    retry_after: int | None = None  # seconds, sent as Retry-After (429)


def authenticate(request) -> ApiCredential:
    """The credential that signed `request`; raises ApiError (401) naming what is wrong."""
    headers = request.headers
    key = headers.get(signing.HEADER_KEY, "")
    stamp = headers.get(signing.HEADER_TIMESTAMP, "")
    nonce = headers.get(signing.HEADER_NONCE, "")
    given = headers.get(signing.HEADER_SIGNATURE, "")
    missing = [name for name, value in ((signing.HEADER_KEY, key), (signing.HEADER_TIMESTAMP, stamp),
                                        (signing.HEADER_NONCE, nonce), (signing.HEADER_SIGNATURE, given)) if not value]
    if missing:
        raise ApiError(401, "missing_auth", _("missing header(s): %(names)s") % {"names": ", ".join(missing)})
    credential = ApiCredential.objects.select_related("merchant").filter(key=key).first()
    if credential is None or not credential.merchant.is_active:
        raise ApiError(401, "unknown_key", _("unknown API key"))
    if credential.revoked_at is not None:
        raise ApiError(401, "key_revoked", _("this API key was revoked; ask the merchant's owner for a new one"))
    if not STAMP.fullmatch(stamp):  # not str.isdigit(): it takes "²" and other digits int() refuses
        raise ApiError(401, "bad_timestamp", _("%(header)s must be Unix time in seconds") % {
            "header": signing.HEADER_TIMESTAMP})
    now = timezone.now()
    skew = abs(now.timestamp() - int(stamp))
    if skew > WINDOW.total_seconds():
        raise ApiError(401, "stale_timestamp",
                       _("timestamp is %(skew)s s from the server's clock (at most %(window)s s)") % {
                           "skew": f"{skew:.0f}", "window": f"{WINDOW.total_seconds():.0f}"})
    if not NONCE.match(nonce):
        raise ApiError(401, "bad_nonce", _("nonce must be 8-64 letters, digits, '-' or '_'"))
    canonical = signing.canonical_string(
        method=request.method, path=request.path, query_pairs=_pairs(request.GET),
        timestamp=stamp, nonce=nonce, body=request.body,
    )
    if not hmac.compare_digest(given.lower(), signing.signature(credential.secret, canonical)):
        raise ApiError(401, "bad_signature", _("signature does not match (see the canonical string in the API docs)"))
    try:
        with transaction.atomic():
            ApiNonce.objects.create(credential=credential, nonce=nonce, seen_at=now)
    except IntegrityError:
        raise ApiError(401, "replayed_nonce", _("this nonce was already used with this key")) from None
    ApiCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    return credential


def _pairs(query) -> list[tuple[str, str]]:
    return [(k, v) for k, values in query.lists() for v in values]


def nonces_purge(now=None) -> int:
    """Nonces older than the timestamp window can never be replayed (their timestamp is refused)."""
    now = now or timezone.now()
    return ApiNonce.objects.filter(seen_at__lt=now - 2 * WINDOW).delete()[0]
