"""Unusual answers (SPEC S13): learn what a method's normal answers look like, and raise those that differ.

For each connection and method the first ANOMALY_LEARN_ANSWERS successful answers are learned: every field's
path (`trades.trade[].tid`), in how many answers it was present, and the JSON types it had. After that an
answer is unusual when
- a field present in every learned answer is missing while the object that holds it is there (a collection a
  platform leaves out when it is empty, `trades` with no trades, is not counted as missing: only plain values
  are), or
- a field comes back with a type it never had (a number as a string, an object where a list was);
and any time when
- a successful (2xx) answer is not JSON at all: an HTML page, an empty body, a cut-off document, or
- an error code that the connector's error table does not know (and no merchant accepted) comes back.

Unusual answers are grouped by (connection, method, kind, field or code); a group is counted each time it is
seen and raised once, with a notification when it first appears. Nothing here stops a sync: the connector has
already decided whether the answer is usable. Observing never raises either: losing a statistic must not fail
a call. Examples hold type names, field names, codes and the request id, never values or a remote body.
"""
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.services.notifications import notify

from .models import AnomalyKind, AnswerAnomaly, AnswerShape

log = logging.getLogger(__name__)

MAX_DEPTH = 8
MAX_PATHS = 400  # an answer keyed by ids (a map of items) has no fixed shape: past this it is not learned
LIST_ITEMS_READ = 5  # the shape of a list is that of its first few items
CONTAINERS = {"object", "array"}

# Learned shapes by (connection id, method): read once per process, re-read after LEARN_CACHE_SECONDS.
_cache: dict[tuple[int, str], tuple[float, AnswerShape]] = {}
LEARN_CACHE_SECONDS = 300


def type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def answer_shape(value) -> tuple[dict[str, set[str]], set[str]] | None:
    """({path: types}, partial) of a parsed JSON answer (the root itself left out), where partial holds the
    paths of list items' fields that some of the items read lack (a field only some items have is optional).
    None when the answer has more than MAX_PATHS distinct paths."""
    shape: dict[str, set[str]] = {}
    partial: set[str] = set()
    stack = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if path:
            shape.setdefault(path, set()).add(type_name(node))
            if len(shape) > MAX_PATHS:
                return None
        if depth >= MAX_DEPTH:
            continue
        if isinstance(node, dict):
            for key, child in node.items():
                stack.append((child, f"{path}.{key}" if path else str(key)[:60], depth + 1))
        elif isinstance(node, list):
            items = node[:LIST_ITEMS_READ]
            keys = [set(item) for item in items if isinstance(item, dict)]
            if keys:
                partial.update(f"{path}[].{key}" for key in set.union(*keys) - set.intersection(*keys))
            for child in items:
                stack.append((child, f"{path}[]", depth + 1))
    return shape, partial


def _parent(path: str) -> str:
    """`trades.trade[].tid` -> `trades.trade[]`; a top-level field's parent is the root ("")."""
    if path.endswith("[]"):
        return path[:-2]
    head, dot, _tail = path.rpartition(".")
    return head if dot else ""


def differences(shape: AnswerShape, seen: dict[str, set[str]], partial: set[str] = frozenset()) \
        -> list[tuple[str, str, dict]]:
    """(kind, path, example) for each way an answer's shape (`seen`, `partial` from answer_shape) differs from
    the learned shape."""
    found = []
    for path, types in seen.items():
        known = shape.types.get(path)
        if known is not None and not types <= set(known):
            found.append((AnomalyKind.TYPE_CHANGED, path,
                          {"expected": sorted(known), "found": sorted(types - set(known))}))
    for path, count in shape.presence.items():
        if count < shape.answers or (path in seen and path not in partial) \
                or set(shape.types.get(path, ())) & CONTAINERS:
            continue
        parent = _parent(path)
        # Missing only where the object that holds it is there (a list's item fields: the list has items).
        if parent and parent not in seen:
            continue
        found.append((AnomalyKind.FIELD_MISSING, path,
                      {"expected": sorted(shape.types.get(path, ())),
                       "beside": sorted(p.rpartition(".")[2] for p in seen if _parent(p) == parent)[:20]}))
    return found


def _shape_for(connection_id: int, method: str) -> AnswerShape:
    now = timezone.now().timestamp()
    cached = _cache.get((connection_id, method))
    if cached and cached[1].learned_at and now - cached[0] < LEARN_CACHE_SECONDS:
        return cached[1]
    shape, _created = AnswerShape.objects.get_or_create(connection_id=connection_id, method=method[:64])
    _cache[(connection_id, method)] = (now, shape)
    return shape


def _learn(shape: AnswerShape, seen: dict[str, set[str]], partial: set[str]) -> None:
    for path, types in seen.items():
        if path not in partial:
            shape.presence[path] = shape.presence.get(path, 0) + 1
        shape.types[path] = sorted(set(shape.types.get(path, ())) | types)
    shape.answers += 1
    if shape.answers >= settings.ANOMALY_LEARN_ANSWERS:
        shape.learned_at = timezone.now()
    shape.save(update_fields=["presence", "types", "answers", "learned_at"])


def observe_answer(*, connection, method: str, body, request_id: str = "") -> None:
    """A successful answer's parsed JSON: learned from, or compared with what was learned."""
    try:
        read = answer_shape(body)
        if read is None:
            return
        seen, partial = read
        shape = _shape_for(connection.pk, method)
        if shape.learned_at is None:
            _learn(shape, seen, partial)
            return
        for kind, path, example in differences(shape, seen, partial):
            anomaly_record(connection=connection, method=method, kind=kind, subject=path,
                           example={**example, "request_id": request_id})
    except Exception:  # noqa: BLE001 - see the module docstring
        log.exception("could not check the answer of %s on connection %s", method, connection.pk)


def observe_not_json(*, connection, method: str, body: bytes, request_id: str = "") -> None:
    """A 2xx answer that is not a JSON document: grouped as an HTML page, an empty body or broken JSON."""
    text = body.lstrip()[:64].lower()
    if not text:
        what = "empty"
    elif text.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        what = "html"
    else:
        what = "broken"
    try:
        anomaly_record(connection=connection, method=method, kind=AnomalyKind.NOT_JSON, subject=what,
                       example={"bytes": len(body), "request_id": request_id})
    except Exception:  # noqa: BLE001
        log.exception("could not record the answer of %s on connection %s", method, connection.pk)


def observe_error_code(*, connection, method: str, code: str, known: bool, request_id: str = "") -> None:
    """An error answer: its code is unusual when the connector's table does not know it (`known` False) and no
    merchant accepted it for this method."""
    if known or not code:
        return
    try:
        shape = _shape_for(connection.pk, method)
        if code in shape.error_codes:
            return
        anomaly_record(connection=connection, method=method, kind=AnomalyKind.UNKNOWN_ERROR, subject=code,
                       example={"request_id": request_id})
    except Exception:  # noqa: BLE001
        log.exception("could not record the error code of %s on connection %s", method, connection.pk)


def anomaly_record(*, connection, method: str, kind: str, subject: str, example: dict) -> AnswerAnomaly:
    """Count one unusual answer in its group; a new group is notified once. An accepted group seen again is
    open again (that only happens for answers that are not JSON: accepting the others changes the shape)."""
    now = timezone.now()
    key = {"connection_id": connection.pk, "method": method[:64], "kind": kind, "subject": subject[:120]}
    updated = AnswerAnomaly.objects.filter(**key).update(count=F("count") + 1, last_at=now, example=example,
                                                         accepted_at=None, accepted_by=None)
    if updated:
        return AnswerAnomaly.objects.get(**key)
    try:
        with transaction.atomic():
            anomaly = AnswerAnomaly.objects.create(**key, example=example, first_at=now, last_at=now)
    except IntegrityError:  # another worker created the group meanwhile
        AnswerAnomaly.objects.filter(**key).update(count=F("count") + 1, last_at=now)
        return AnswerAnomaly.objects.get(**key)
    _notify(connection, anomaly)
    return anomaly


def _notify(connection, anomaly: AnswerAnomaly) -> None:
    notify(merchant=connection.merchant_id, event="answer_anomaly", subject_key=f"anomaly:{anomaly.pk}",
           title=_("%(connection)s answered %(method)s in an unusual way") % {
               "connection": connection.name, "method": anomaly.method},
           body=anomaly_sentence(anomaly), url=connection.get_absolute_url(), cooldown_seconds=0)


def anomaly_sentence(anomaly: AnswerAnomaly) -> str:
    """The group in the merchant's words: what differs, in which field or code."""
    example = anomaly.example or {}
    if anomaly.kind == AnomalyKind.FIELD_MISSING:
        return _("The field %(field)s, present in every earlier answer, is missing.") % {"field": anomaly.subject}
    if anomaly.kind == AnomalyKind.TYPE_CHANGED:
        return _("The field %(field)s came back as %(found)s; earlier answers had %(expected)s.") % {
            "field": anomaly.subject, "found": ", ".join(type_label(t) for t in example.get("found", ())),
            "expected": ", ".join(type_label(t) for t in example.get("expected", ()))}
    if anomaly.kind == AnomalyKind.NOT_JSON:
        return {"html": _("A successful answer was a web page (HTML) instead of data."),
                "empty": _("A successful answer was empty."),
                }.get(anomaly.subject, _("A successful answer was cut off or is not readable data."))
    return _("Error code %(code)s is not one the connection knows.") % {"code": anomaly.subject}


def type_label(name: str) -> str:
    return {"string": _("text"), "integer": _("a whole number"), "number": _("a number"), "boolean": _("yes/no"),
            "null": _("empty (null)"), "array": _("a list"), "object": _("a group of fields")}.get(name, name)


def anomaly_accept(*, anomaly: AnswerAnomaly, actor) -> AnswerAnomaly:
    """The merchant says this is how the platform answers now: the learned shape takes it in (the new type,
    the field as optional, the code as known) so it is not raised again, and the group is marked accepted."""
    with transaction.atomic():
        shape = AnswerShape.objects.select_for_update().filter(
            connection_id=anomaly.connection_id, method=anomaly.method).first()
        if shape is not None:
            if anomaly.kind == AnomalyKind.TYPE_CHANGED:
                shape.types[anomaly.subject] = sorted(
                    set(shape.types.get(anomaly.subject, ())) | set(anomaly.example.get("found", ())))
            elif anomaly.kind == AnomalyKind.FIELD_MISSING:
                shape.presence.pop(anomaly.subject, None)
            elif anomaly.kind == AnomalyKind.UNKNOWN_ERROR and anomaly.subject not in shape.error_codes:
                shape.error_codes = [*shape.error_codes, anomaly.subject]
            shape.save(update_fields=["types", "presence", "error_codes"])
        anomaly.accepted_at, anomaly.accepted_by = timezone.now(), actor
        anomaly.save(update_fields=["accepted_at", "accepted_by"])
    _cache.pop((anomaly.connection_id, anomaly.method), None)
    return anomaly
