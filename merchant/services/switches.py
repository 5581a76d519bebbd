"""Auto-sync switches (SPEC M11): module and SKU switches, time-boxed pauses, held values."""
import logging
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import HeldValue, Module, ModuleSwitch, Product, SkuSwitch, SwitchKind
from merchant.permissions import Action, Actor

from .audit import audit_changes

# Which held product fields a switch releases when it is turned back on.
MODULE_FIELDS = {Module.STOCK: ("stock",), Module.PRICES: ("default_price", "suggested_retail_price")}
KIND_FIELDS = {SwitchKind.STOCK: ("stock",), SwitchKind.PRICE: ("default_price", "suggested_retail_price")}
log = logging.getLogger(__name__)
KIND_MODULE = {SwitchKind.STOCK: Module.STOCK, SwitchKind.PRICE: Module.PRICES}


def _state_label(enabled: bool, until: datetime | None) -> str:
    if enabled:
        return "on"
    return f"off until {timezone.localtime(until):%Y-%m-%d %H:%M}" if until else "off"


def _check_until(until: datetime | None) -> None:
    if until is not None and until <= timezone.now():
        raise ValidationError({"until": _("The end of a pause must be in the future.")})


def module_switch_set(
    *, merchant, module: str, enabled: bool, actor: Actor, until: datetime | None = None, reason: str = ""
) -> ModuleSwitch:
    """Turn a module's auto-sync on or off (optionally until a time); turning on applies held values. The
    switch returned carries applied_count: how many held values and records turning it on applied."""
    actor.require(Action.MODULE_SWITCH)
    if module not in Module.values:
        raise ValidationError({"module": _("Unknown module.")})
    if not enabled:
        _check_until(until)
    with transaction.atomic():
        switch, _created = ModuleSwitch.objects.select_for_update().get_or_create(merchant=merchant, module=module)
        _write_switch(switch, enabled, until, actor, reason, merchant.pk, "module_switch", switch.pk,
                      label=module)
        switch.applied_count = 0
        if enabled and module in MODULE_FIELDS:
            switch.applied_count += held_values_apply(
                products=Product.objects.filter(merchant=merchant), fields=MODULE_FIELDS[module], actor=actor
            )
        if enabled:
            from .inbound import held_items_apply

            switch.applied_count += held_items_apply(merchant=merchant, module=module)
    return switch


def sku_switch_set(
    *, products, kind: str, enabled: bool, actor: Actor, until: datetime | None = None, reason: str = ""
) -> list[SkuSwitch]:
    """Turn one auto-sync kind on or off for each product; turning on applies held values (the first switch
    returned carries applied_count, how many in all)."""
    actor.require(Action.SKU_SWITCH)
    if kind not in SwitchKind.values:
        raise ValidationError({"kind": _("Unknown switch.")})
    products = list(products)  # read twice below
    if not enabled:
        _check_until(until)
    switches = []
    with transaction.atomic():
        for product in products:
            switch, _created = SkuSwitch.objects.select_for_update().get_or_create(product=product, kind=kind)
            _write_switch(switch, enabled, until, actor, reason, product.merchant_id, "product", product.pk,
                          label=f"switch[{kind}]")
            switches.append(switch)
        applied = 0
        if enabled:
            applied = held_values_apply(
                products=Product.objects.filter(pk__in=[p.pk for p in products]),
                fields=KIND_FIELDS[kind], actor=actor,
            )
        for switch in switches:
            switch.applied_count = applied if switch is switches[0] else 0
    return switches


def _write_switch(switch, enabled, until, actor, reason, merchant_id, entity, entity_id, label="enabled"):
    until = None if enabled else until
    old = _state_label(switch.enabled, switch.paused_until)
    switch.enabled = enabled
    switch.paused_until = until
    switch.changed_by = actor.user if getattr(actor.user, "pk", None) else None
    switch.changed_at = timezone.now()
    switch.reason = reason[:200]
    switch.save()
    audit_changes(
        merchant_id=merchant_id, entity=entity, entity_id=entity_id,
        changes={label: (old, _state_label(enabled, until))}, actor=actor, reason=reason,
    )


def switches_resume_expired(*, now: datetime | None = None) -> int:
    """Turn back on every pause whose until-time has passed and apply what was held. Returns how many."""
    now = now or timezone.now()
    actor = Actor.system()
    resumed = 0
    for switch in ModuleSwitch.objects.filter(enabled=False, paused_until__lte=now).select_related("merchant"):
        module_switch_set(merchant=switch.merchant, module=switch.module, enabled=True, actor=actor,
                          reason=_("pause ended"))
        resumed += 1
    for switch in SkuSwitch.objects.filter(enabled=False, paused_until__lte=now).select_related("product"):
        sku_switch_set(products=[switch.product], kind=switch.kind, enabled=True, actor=actor,
                       reason=_("pause ended"))
        resumed += 1
    _held_sweep(actor)
    return resumed


def _held_sweep(actor: Actor) -> None:
    """Apply what is held under switches that are on now. Turning a switch on applies its held values in the
    same transaction; this catches a value held by a request that raced with that (DESIGN rule 3)."""
    from merchant.models import HeldItem, Merchant

    from .inbound import MODULE_OF_KIND, held_items_apply

    product_ids = list(HeldValue.objects.values_list("product_id", flat=True).distinct()[:10000])
    if product_ids:
        held_values_apply(products=Product.objects.filter(pk__in=product_ids),
                          fields=("stock", "default_price", "suggested_retail_price"), actor=actor)
    for merchant_id, kind in HeldItem.objects.values_list("merchant_id", "kind").distinct():
        merchant = Merchant.objects.get(pk=merchant_id)
        module = MODULE_OF_KIND[kind]
        if module_pause(merchant, module) is None:
            with transaction.atomic():
                held_items_apply(merchant=merchant, module=module)


def paused_message(what: str, switch) -> str:
    """What the merchant is told after pausing: until when, or that it stays off until turned back on."""
    if switch.paused_until:
        return _("Automatic sync of %(what)s paused until %(time)s; it turns back on by itself then.") % {
            "what": what, "time": timezone.localtime(switch.paused_until).strftime("%Y-%m-%d %H:%M")}
    return _("Automatic sync of %(what)s is off until someone turns it back on.") % {"what": what}


def until_text(switch) -> str:
    if switch.paused_until:
        return _(" until %(time)s") % {"time": timezone.localtime(switch.paused_until).strftime("%Y-%m-%d %H:%M")}
    return ""


def module_pause(merchant, module: str):
    """The module's switch when its auto-sync is off now, else None."""
    switch = ModuleSwitch.objects.filter(merchant=merchant, module=module).first()
    return switch if switch and not switch.is_on() else None


def sku_sync_pauses(merchant, product_ids, kind: str) -> dict:
    """product id -> reason, for the products whose auto sync of kind (stock or price) is off now, by their
    module's switch or their own."""
    module = Module.STOCK if kind == SwitchKind.STOCK else Module.PRICES
    switch = module_pause(merchant, module)
    if switch is not None:
        reason = _("auto sync of %(module)s is off%(until)s") % {
            "module": Module(module).label, "until": until_text(switch)}
        return {pk: reason for pk in product_ids}
    now = timezone.now()
    paused = {}
    ids = list(product_ids)
    for start in range(0, len(ids), 5000):  # an import may name 100,000 products
        for sku in SkuSwitch.objects.filter(product_id__in=ids[start:start + 5000], kind=kind, enabled=False):
            if not sku.is_on(now):
                paused[sku.product_id] = _("%(switch)s of this SKU is off%(until)s") % {
                    "switch": SwitchKind(kind).label, "until": until_text(sku)}
    return paused


def auto_sync_on(*, merchant_id: int, module: str, product: Product | None = None, kind: str | None = None) -> bool:
    """Whether values from automatic channels apply now for this module (and this SKU, if given)."""
    now = timezone.now()
    module_switch = ModuleSwitch.objects.filter(merchant_id=merchant_id, module=module).first()
    if module_switch and not module_switch.is_on(now):
        return False
    if product is not None and kind is not None:
        sku = SkuSwitch.objects.filter(product=product, kind=kind).first()
        if sku and not sku.is_on(now):
            return False
    return True


def _group_price_apply(product, field: str, price: Decimal, actor: Actor) -> None:
    """A held group price, field "price[region_group:CODE]" or "price[customer_group:CODE]"."""
    from merchant.models import CustomerGroup, RegionGroup

    from .catalog import group_price_set

    price_type, code = field[len("price["):-1].split(":", 1)
    model = RegionGroup if price_type == "region_group" else CustomerGroup
    group = model.objects.get(code=code)  # DoesNotExist: the group was removed since; the value stays held
    group_price_set(product=product, price=price, actor=actor, **{price_type: group})


def held_values_apply(*, products, fields, actor: Actor) -> int:
    """Apply the latest held value of each field whose switches are all on now; returns how many applied."""
    applied = 0
    wanted = Q(field__in=fields)
    if "default_price" in fields:
        wanted |= Q(field__startswith="price[")  # group prices: price[region_group:south]
    held = (
        HeldValue.objects.filter(wanted, product__in=products)
        .select_related("product").order_by("product_id", "field", "received_at")
    )
    latest = {}
    for value in held:  # later rows win: the latest held value per product and field
        latest[(value.product_id, value.field)] = value
    for (_pid, field), value in latest.items():
        product = value.product
        kind = SwitchKind.STOCK if field == "stock" else SwitchKind.PRICE
        if not auto_sync_on(merchant_id=product.merchant_id, module=KIND_MODULE[kind], product=product, kind=kind):
            continue
        if held_value_write(value, actor=Actor.system(source=value.source), reason=_("held value applied")):
            applied += 1
    return applied


def held_value_write(value: HeldValue, *, actor: Actor, reason: str) -> bool:
    """Make one held value the value in force and drop it (and older ones of the field); False when it is not
    valid any more (it stays held, shown on the product page)."""
    from .catalog import product_update
    from .stock import stock_set

    product, field = value.product, value.field
    try:
        if field == "stock":
            if not product.batch_managed:
                stock_set(product=product, quantity=int(value.value), actor=actor, reason=reason)
        elif field.startswith("price["):
            _group_price_apply(product, field, Decimal(str(value.value)), actor)
        else:
            product_update(product=product, actor=actor, reason=reason, **{field: Decimal(str(value.value))})
    except (ValidationError, ValueError, ArithmeticError, ObjectDoesNotExist) as error:
        # A held value that is not valid any more must not stop the switch from turning on:
        # it stays held (shown on the product page) and the rest still apply.
        log.warning("held value %s of product %s not applied: %s", field, product.pk, error)
        return False
    HeldValue.objects.filter(product=product, field=field).delete()
    return True
