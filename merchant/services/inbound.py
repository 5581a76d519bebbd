"""Values from automatic channels (the Open API and the ERP bridge) applied under the sync switches
(SPEC A2, M11): each item is answered on its own as ok, held (with the reason) or invalid (per field).

An item whose module's auto-sync is off is held whole (HeldItem, the latest per record) and applied when
the module is turned back on. A stock or price value for a SKU whose own switch is off, or whose module
(stock, prices) is off, is held as a HeldValue, shown beside the value in force and applied when the
switch is on again; the rest of the item still applies. Everything runs in one transaction with the
products locked, so what is decided is what is written.
"""
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import HeldItem, HeldValue, Module, SwitchKind
from merchant.permissions import Actor

from .bulk import PLANS
from .bulk.common import NEW, Item, Outcome
from .inbound_fields import item_from_stored, item_to_json
from .switches import module_pause, sku_sync_pauses, until_text

MODULE_OF_KIND = {
    "products": Module.PRODUCTS, "prices": Module.PRICES, "batches": Module.BATCHES, "stock": Module.STOCK,
    "listing": Module.LISTING, "customer_codes": Module.CUSTOMERS,
}
KINDS_OF_MODULE = {module: kind for kind, module in MODULE_OF_KIND.items()}
OK, HELD, INVALID = "ok", "held", "invalid"
log = logging.getLogger(__name__)


@dataclass
class ItemResult:
    ref: int
    key: str
    status: str
    errors: dict = field(default_factory=dict)  # field -> reason (invalid)
    reason: str = ""  # why it is held
    held: list = field(default_factory=list)  # the fields held (an item may be partly applied, partly held)
    changed: bool = False
    note: str = ""  # why a valid item was left out (the merchant's batch policy)


def _held_fields(kind: str, item: Item) -> dict:
    """field held -> (switch kind, value) for the stock and price values of an item."""
    values = item.values
    if kind in ("products", "stock"):
        fields = {"stock": SwitchKind.STOCK} if "stock" in values else {}
        if kind == "products":
            fields.update({name: SwitchKind.PRICE for name in ("default_price", "suggested_retail_price")
                           if name in values})
        return {name: (switch, values[name]) for name, switch in fields.items()}
    if kind == "prices":
        price_type = values["price_type"]
        if price_type in ("default", "suggested_retail"):
            name = "default_price" if price_type == "default" else "suggested_retail_price"
        else:
            name = f"price[{price_type}:{values['group_code']}]"
        return {name: (SwitchKind.PRICE, values["price"])}
    return {}


def _record_key(kind: str, plan, item: Item) -> str:
    """The record a held item replaces: batches are held per product (their full replace)."""
    if kind == "batches":
        return item.values["erp_product_id"]
    key = plan.key_of(item)
    return "|".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


def _mark_duplicates(plan, items: list[Item]) -> None:
    """A record named twice in one request: the later item is refused (which one wins would be a guess)."""
    seen = {}
    for item in items:
        key = plan.key_of(item)
        if key is None or item.errors:
            continue
        first = seen.setdefault(key, item.ref)
        if first != item.ref:
            item.errors[plan.dup_field] = _("the same record is also item %(ref)d") % {"ref": first}
        for name in plan.unique_fields:
            if name in item.values:
                first = seen.setdefault((name, item.values[name]), item.ref)
                if first != item.ref:
                    item.errors[name] = _("the same value is also in item %(ref)d") % {"ref": first}


def inbound_apply(*, merchant, kind: str, items: list[Item], actor: Actor, reason: str = "",
                  hold: bool = True) -> list[ItemResult]:
    """Apply a batch of items of one kind from an automatic channel; returns one result per item, in order.
    Invalid items change nothing; the valid ones apply (or are held) in one transaction. hold=False applies
    them whatever the switches say (a merchant applying a held record by hand)."""
    plan = PLANS[kind](merchant)
    _mark_duplicates(plan, items)
    results: dict[int, ItemResult] = {}
    with transaction.atomic():
        outcomes = plan.plan(items, lock=True)
        valid = _refuse_invalid(kind, plan, outcomes, results)
        if kind == "batches":
            valid = _batch_policy(merchant, plan, valid, results)
        by_ref = {item.ref: item for item in items}
        switch = module_pause(merchant, MODULE_OF_KIND[kind]) if hold else None
        if switch is not None:
            _hold_items(merchant, kind, plan, [by_ref[o.ref] for o in valid], actor, switch, results)
        else:
            if hold:
                valid = _hold_fields(merchant, kind, plan, valid, by_ref, actor, results)
            plan.apply(valid, actor, reason)
            if hasattr(plan, "finish"):
                plan.finish(actor, reason)
            for outcome in valid:
                result = results.setdefault(outcome.ref, ItemResult(outcome.ref, str(outcome.key), OK))
                # A record created is a change, whether or not the plan describes its fields.
                result.changed = result.changed or bool(outcome.changes) or outcome.action == NEW
    return [results[item.ref] for item in items]


def _refuse_invalid(kind: str, plan, outcomes: list[Outcome], results: dict) -> list[Outcome]:
    for outcome in outcomes:
        if not outcome.valid:
            results[outcome.ref] = ItemResult(outcome.ref, str(outcome.key), INVALID, errors=outcome.errors)
    valid = [outcome for outcome in outcomes if outcome.valid]
    if kind != "batches":
        return valid
    # A product's batches are replaced all together: one invalid batch leaves the product's others alone.
    refused = {results[ref].key for ref in results}
    kept = []
    for outcome in valid:
        if outcome.key in refused:
            results[outcome.ref] = ItemResult(outcome.ref, str(outcome.key), INVALID, errors={
                "": _("skipped: another batch of this product is invalid, and its batches are replaced only "
                      "all together")})
            plan.named.pop(outcome.product_id, None)
        else:
            kept.append(outcome)
    return kept


def _batch_policy(merchant, plan, valid: list[Outcome], results: dict) -> list[Outcome]:
    """Keep the batches the merchant's batch sync policy asks for (SPEC M6): all on-sale ones, or per product
    only the latest (by production date) or the largest-stock one among those on sale. The others are
    answered ok with a note and, as the product's batches are fully replaced, not kept."""
    from merchant.models.accounts import BatchSyncPolicy

    policy = merchant.batch_sync_policy
    if policy == BatchSyncPolicy.ALL_ON_SALE:
        return valid
    today = timezone.localdate()
    by_product = defaultdict(list)
    for outcome in valid:
        by_product[outcome.product_id].append(outcome)
    note = (_("not kept: the batch policy keeps only the latest batch") if policy == BatchSyncPolicy.LATEST
            else _("not kept: the batch policy keeps only the batch with the most stock"))
    kept = []
    for product_id, outcomes in by_product.items():
        on_sale = [o for o in outcomes if o.payload[3]["quantity"] > 0 and o.payload[3]["expiry_date"] > today]
        rank = (lambda o: (o.payload[3]["production_date"], o.payload[3]["expiry_date"], o.payload[2])) \
            if policy == BatchSyncPolicy.LATEST else (lambda o: (o.payload[3]["quantity"], o.payload[3]["expiry_date"]))
        chosen = max(on_sale or outcomes, key=rank)
        kept.append(chosen)
        for outcome in outcomes:
            if outcome is not chosen:
                plan.named[product_id].discard(outcome.payload[2])
                results[outcome.ref] = ItemResult(outcome.ref, str(outcome.key), OK, note=note)
    return kept


def _hold_items(merchant, kind, plan, items: list[Item], actor: Actor, switch, results: dict) -> None:
    reason = _("auto sync of %(module)s is off%(until)s") % {
        "module": Module(MODULE_OF_KIND[kind]).label, "until": until_text(switch)}
    now = timezone.now()
    records = {}
    for item in items:
        key = _record_key(kind, plan, item)
        if kind == "batches":
            records.setdefault(key, []).append(item_to_json(item.values))
        else:
            records[key] = item_to_json(item.values)
        results[item.ref] = ItemResult(item.ref, key, HELD, reason=reason, held=sorted(item.values))
    HeldItem.objects.bulk_create(
        [HeldItem(merchant=merchant, kind=kind, key=key[:200], source=actor.source, values=values, received_at=now)
         for key, values in records.items()],
        update_conflicts=True, unique_fields=["merchant", "kind", "key"],
        update_fields=["source", "values", "received_at"],
    )


def _hold_fields(merchant, kind, plan, valid: list[Outcome], by_ref: dict, actor: Actor, results: dict):
    """Hold the stock and price values of paused SKUs; returns the outcomes to apply (re-planned without the
    held fields where an item keeps others)."""
    candidates = {o.ref: _held_fields(kind, by_ref[o.ref]) for o in valid if o.product_id}
    wanted = defaultdict(set)
    for outcome in valid:
        for _field, (switch, _value) in candidates.get(outcome.ref, {}).items():
            wanted[switch].add(outcome.product_id)
    if not wanted:
        return valid
    paused = {switch: sku_sync_pauses(merchant, ids, switch) for switch, ids in wanted.items()}
    now = timezone.now()
    held_rows, keep, replan = [], [], []
    for outcome in valid:
        fields = {name: value for name, (switch, value) in candidates.get(outcome.ref, {}).items()
                  if outcome.product_id in paused[switch]}
        if not fields:
            keep.append(outcome)
            continue
        item = by_ref[outcome.ref]
        reasons = {paused[switch][outcome.product_id] for name, (switch, _v) in candidates[outcome.ref].items()
                   if name in fields}
        results[outcome.ref] = ItemResult(outcome.ref, str(outcome.key), HELD, reason="; ".join(sorted(reasons)),
                                          held=sorted(fields))
        for name, value in fields.items():
            held_rows.append(HeldValue(merchant=merchant, product_id=outcome.product_id, field=name,
                                       source=actor.source, value=item_to_json({"v": value})["v"], received_at=now))
        rest = {name: value for name, value in item.values.items() if name not in fields}
        if kind == "products" and set(rest) - {"erp_product_id"}:
            replan.append(Item(item.ref, rest))
    HeldValue.objects.bulk_create(held_rows, update_conflicts=True, unique_fields=["product", "field", "source"],
                                  update_fields=["value", "received_at"])
    if replan:
        keep.extend(o for o in plan.plan(replan, lock=True) if o.valid)
    return keep


def held_items_apply(*, merchant, module: str) -> int:
    """Apply the records held while the module was off (the latest per record), each under its source's name.
    Returns how many were applied; a record that is no longer valid is dropped and logged."""
    kind = KINDS_OF_MODULE.get(module)
    if kind is None:
        return 0
    held = list(HeldItem.objects.select_for_update().filter(merchant=merchant, kind=kind).order_by("received_at", "pk"))
    applied = 0
    for source in sorted({row.source for row in held}):
        rows = [row for row in held if row.source == source]
        items = []
        for row in rows:
            items.extend(held_record_items(row, first_ref=len(items) + 1))
        results = inbound_apply(merchant=merchant, kind=kind, items=items, actor=Actor.system(source=source),
                                reason=_("held value applied"))
        for result in results:
            if result.status == INVALID:
                log.warning("held %s record %s no longer valid: %s", kind, result.key,
                                                    result.errors)
        applied += sum(1 for result in results if result.status == OK)
        HeldItem.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return applied


def held_record_items(record: HeldItem, first_ref: int = 1) -> list[Item]:
    """A held record as the items it was received as (a product's batches are several)."""
    stored = record.values if record.kind == "batches" else [record.values]
    return [item_from_stored(record.kind, first_ref + i, values) for i, values in enumerate(stored)]
