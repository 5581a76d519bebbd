"""Reading Open API requests: the JSON body (bounded, money as Decimal) and the items of a batch."""
import json
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from merchant.services.inbound_fields import storable_text

from .auth import ApiError


def body_size_check(request) -> None:
    """Refuse an oversized body before anything reads it (the signature check reads the whole body)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "bad_content_length", _("Content-Length is not a number")) from None
    if length > settings.API_MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large",
                       _("the body is %(length)s bytes, more than the %(limit)s allowed") % {
                           "length": length, "limit": settings.API_MAX_BODY_BYTES})


def json_body(request) -> dict:
    """The body as a JSON object. Numbers with a fraction are read as Decimal, never float, so a price of
    12.345 is refused for its 3 decimals instead of being rounded on the way in."""
    if not request.body:
        raise ApiError(400, "malformed_json", _("the body is empty; send a JSON object"))
    try:
        body = json.loads(request.body, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "malformed_json", _("the body is not valid JSON: %(error)s") % {"error": error}) from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", _("the body must be a JSON object"))
    where = _unstorable_text(body)
    if where is not None:
        raise ApiError(400, "malformed_json", _("the text at %(where)s holds a NUL (\\u0000) or an unpaired surrogate, "
                                                "which no field can store") % {"where": where})
    return body


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _unstorable_text(body) -> str | None:
    """Where the body holds a string (a value or a key) with NUL or an unpaired surrogate, such as
    "items[3].note", else None.

    JSON escapes can carry both, PostgreSQL stores neither (in text or jsonb), and psycopg cannot even send them
    in a query: caught here, once for every endpoint, they are a clear 400 instead of a server error wherever
    the text would have gone (a lookup, a stored row, an answer stored for an idempotency key)."""
    # Iterative, as a body nested as deep as json.loads allows would overflow a recursive walk; each entry links
    # to its parent's path, which is only spelled out for the one string reported.
    stack = [(None, body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not storable_text(value):
                return _path_text(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if not storable_text(key):
                    return f"{_path_text(path) or 'the body'} (a field name)"
                stack.append(((path, f".{key}"), item))
        elif isinstance(value, list):
            stack.extend(((path, f"[{index}]"), item) for index, item in enumerate(value))
    return None


def _path_text(path) -> str:
    parts = []
    while path is not None:
        path, part = path
        parts.append(part)
    return "".join(reversed(parts)).lstrip(".")


def batch_items(body: dict) -> list:
    """The request's "items": a list of 1 to API_MAX_ITEMS entries."""
    unknown = sorted(set(body) - {"items"})
    if unknown:
        raise ApiError(400, "unknown_field", _("unknown top-level field(s): %(names)s") % {"names": ", ".join(unknown)})
    items = body.get("items")
    if not isinstance(items, list):
        raise ApiError(400, "items_required", _('"items" must be a list of objects'))
    if not items:
        raise ApiError(400, "items_required", _('"items" is empty'))
    if len(items) > settings.API_MAX_ITEMS:
        raise ApiError(413, "too_many_items",
                       _('"items" has %(count)s entries, at most %(limit)s are allowed per request') % {
                           "count": len(items), "limit": settings.API_MAX_ITEMS})
    return items
