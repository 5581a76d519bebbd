"""Field names and recorded values in the merchant's words.

Audit entries, held values and change sets name what changed with internal keys: a model field
(`default_price`), a group price (`price[chuanyu]`, `price[customer_group:vip]`), a batch (`batch[B1].quantity`),
a switch (`switch[stock]`), and record values as text (`True`, `off until 2026-12-02 14:05`, ISO times in UTC).
This module turns each into what a merchant reads; pages never show the keys themselves.
"""
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

_GROUP_PRICE = re.compile(r"^price\[(?:(region_group|customer_group):)?(.+)\]$")
_BATCH = re.compile(r"^batch\[(.+?)\](?:\.(\w+))?$")
_SWITCH = re.compile(r"^switch\[(\w+)\]$")
_HELD = re.compile(r"^held\[(.+)\]$")
_STOCK_RULE = re.compile(r"^stock_rule\[(\d+)\]$")
_HELD_RECORD = re.compile(r"^held_record\[(\w+)\]$")
_SWITCH_STATE = re.compile(r"^off until (\d{4}-\d{2}-\d{2} \d{2}:\d{2})$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")


def _model_of(entity: str):
    from merchant.models import (
        Batch, Customer, FollowUp, Membership, Merchant, Order, Product, ProductReplenishment,
    )
    from sync.models import Connection

    return {"product": Product, "order": Order, "customer": Customer, "batch": Batch, "merchant": Merchant,
            "connection": Connection, "membership": Membership, "replenishment": ProductReplenishment,
            "followup": FollowUp}.get(entity)


def _model_field(entity: str, field: str):
    model = _model_of(entity)
    try:
        return model._meta.get_field(field) if model else None
    except FieldDoesNotExist:
        return None


def group_name(code: str) -> str:
    """A region or customer group's name from its code or name (labels carry either), else the text as it is."""
    from merchant.models import CustomerGroup, RegionGroup

    for model in (RegionGroup, CustomerGroup):
        group = model.objects.filter(code=code).only("name").first()
        if group:
            return group.name
    return code


def field_label(entity: str, field: str) -> str:
    """What the field is called on the page, e.g. "Default price", "Price for 川渝", "Batch B1: quantity"."""
    from merchant.models import Module, SwitchKind

    if match := _HELD.match(field):
        return _("Held value of %(field)s") % {"field": field_label(entity, match.group(1))}
    if match := _HELD_RECORD.match(field):
        from merchant.services.inbound import MODULE_OF_KIND

        module = MODULE_OF_KIND.get(match.group(1))
        return _("Held record of %(module)s") % {"module": Module(module).label if module else match.group(1)}
    if match := _GROUP_PRICE.match(field):
        return _("Price for %(group)s") % {"group": group_name(match.group(2))}
    if match := _BATCH.match(field):
        part = match.group(2)
        if part:
            inner = _model_field("batch", part)
            return _("Batch %(no)s: %(field)s") % {"no": match.group(1), "field": inner.verbose_name if inner else part}
        return _("Batch %(no)s") % {"no": match.group(1)}
    if match := _STOCK_RULE.match(field):
        from sync.models import Connection

        connection = Connection.objects.filter(pk=int(match.group(1))).only("name").first()
        return _("Stock rule on %(connection)s") % {"connection": connection.name if connection else match.group(1)}
    if field == "stock_rule":
        return _("Stock rule")
    if match := _SWITCH.match(field):
        kind = match.group(1)
        return str(SwitchKind(kind).label) if kind in SwitchKind.values else kind
    if entity == "module_switch" and field in Module.values:
        return _("Automatic sync of %(module)s") % {"module": Module(field).label}
    if entity == "membership" and field in ("member", "active", "password"):
        return {"member": _("member"), "active": _("active"), "password": _("password")}[field]
    if field == "enabled":
        return pgettext("switch state", "Automatic sync") if entity == "module_switch" else _("Enabled")
    model_field = _model_field(entity, field)
    if model_field is not None:
        return str(model_field.verbose_name)
    return field.replace("_", " ")


def _local_time(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if timezone.is_naive(moment):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def value_text(entity: str, field: str, value) -> str:
    """A recorded value as the merchant reads it: choice labels, yes/no, local times, switch states."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or value in ("True", "False"):
        return _("yes") if value in (True, "True") else _("no")
    text = str(value)
    if _SWITCH.match(field) or entity == "module_switch":
        if text == "on":
            return pgettext("switch state", "on")
        if text == "off":
            return pgettext("switch state", "off")
        if match := _SWITCH_STATE.match(text):
            return _("off until %(time)s") % {"time": match.group(1)}
    batch = _BATCH.match(field)
    model_field = _model_field("batch", batch.group(2) or "") if batch else _model_field(entity, field)
    if model_field is not None and model_field.choices:
        return str(dict(model_field.flatchoices).get(text, text))
    if _ISO_TIME.match(text):
        return _local_time(text)
    return text


def money_or_text(value) -> str:
    """A held price or stock value as a plain figure (held values are stored as JSON)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{number:,.2f}" if number != number.to_integral_value() or "." in str(value) else f"{number:,.0f}"
