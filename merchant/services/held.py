"""A merchant deciding about held values by hand (SPEC M11): apply one now, whatever the switch says, or
discard it. Either way it is audited, and the rest stays held."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from merchant.models import HeldItem, HeldValue
from merchant.permissions import Action, Actor

from .audit import audit_changes
from .inbound import INVALID, held_record_items, inbound_apply
from .switches import held_value_write


def _parse(tokens) -> tuple[list[int], list[int]]:
    ids = {"value": [], "record": []}
    for token in tokens:
        kind, _sep, pk = str(token).partition(":")
        if kind in ids and pk.isdigit():
            ids[kind].append(int(pk))
    return ids["value"], ids["record"]


def held_apply(*, merchant, tokens, actor: Actor) -> tuple[int, list[str]]:
    """Make the chosen held values and records ("value:ID", "record:ID") the values in force now.
    Returns (how many applied, why others were not); what is not valid any more stays held."""
    actor.require(Action.EDIT)
    value_ids, record_ids = _parse(tokens)
    applied, problems = 0, []
    with transaction.atomic():
        for value in HeldValue.objects.select_for_update().filter(merchant=merchant, pk__in=value_ids).select_related("product"):
            if held_value_write(value, actor=actor, reason=_("held value applied by hand")):
                applied += 1
            else:
                problems.append(_("%(product)s: the held value is not valid any more") % {"product": value.product})
        for record in HeldItem.objects.select_for_update().filter(merchant=merchant, pk__in=record_ids):
            results = inbound_apply(merchant=merchant, kind=record.kind, items=held_record_items(record),
                                    actor=actor, reason=_("held value applied by hand"), hold=False)
            bad = [r for r in results if r.status == INVALID]
            if bad:
                problems.extend(f"{r.key}: {'; '.join(map(str, r.errors.values()))}" for r in bad)
            else:
                applied += 1
            record.delete()
    return applied, problems


def held_discard(*, merchant, tokens, actor: Actor) -> int:
    """Drop the chosen held values and records: the value in force stays. Returns how many were dropped."""
    actor.require(Action.EDIT)
    value_ids, record_ids = _parse(tokens)
    if not value_ids and not record_ids:
        raise ValidationError(_("Choose at least one held value."))
    with transaction.atomic():
        dropped = 0
        for value in HeldValue.objects.select_for_update().filter(merchant=merchant, pk__in=value_ids):
            audit_changes(merchant_id=merchant.pk, entity="product", entity_id=value.product_id,
                          changes={f"held[{value.field}]": (value.value, None)}, actor=actor,
                          reason=_("held value discarded"))
            value.delete()
            dropped += 1
        for record in HeldItem.objects.select_for_update().filter(merchant=merchant, pk__in=record_ids):
            audit_changes(merchant_id=merchant.pk, entity="merchant", entity_id=merchant.pk,
                          changes={f"held_record[{record.kind}]": (record.key, None)}, actor=actor,
                          reason=_("held value discarded"))
            record.delete()
            dropped += 1
    return dropped
