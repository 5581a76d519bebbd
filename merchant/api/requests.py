"""Reading Open API requests: the JSON body (bounded, money as Decimal) and the items of a batch."""
import json
from decimal import Decimal

from django.conf import settings

from .auth import ApiError


def body_size_check(request) -> None:
    """Refuse an oversized body before anything reads it (the signature check reads the whole body)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "bad_content_length", "Content-Length is not a number") from None
    if length > settings.API_MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large",
                       f"the body is {length} bytes, more than the {settings.API_MAX_BODY_BYTES} allowed")


def json_body(request) -> dict:
    """The body as a JSON object. Numbers with a fraction are read as Decimal, never float, so a price of
    12.345 is refused for its 3 decimals instead of being rounded on the way in."""
    if not request.body:
        raise ApiError(400, "malformed_json", "the body is empty; send a JSON object")
    try:
        body = json.loads(request.body, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return body


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def batch_items(body: dict) -> list:
    """The request's "items": a list of 1 to API_MAX_ITEMS entries."""
    unknown = sorted(set(body) - {"items"})
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown top-level field(s): {', '.join(unknown)}")
    items = body.get("items")
    if not isinstance(items, list):
        raise ApiError(400, "items_required", '"items" must be a list of objects')
    if not items:
        raise ApiError(400, "items_required", '"items" is empty')
    if len(items) > settings.API_MAX_ITEMS:
        raise ApiError(413, "too_many_items",
                       f'"items" has {len(items)} entries, at most {settings.API_MAX_ITEMS} are allowed per request')
    return items
