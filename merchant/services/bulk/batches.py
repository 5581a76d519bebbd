"""Batches by ERP product id and batch number (SPEC M6). The rows of a product fully replace its on-sale
batches: a batch on sale that the file does not name is removed, so no stale batch stays on sale. The
product becomes batch-managed and its stock the sum of its on-sale batches."""
from collections import defaultdict

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _, ngettext

from merchant.changes import products_changed
from merchant.models import Batch, Product

from .copy import update_many
from .common import CHANGED, NEW, UNCHANGED, WRITE_BATCH, AuditBuffer, Item, Outcome, invalid
from .products import listing_after
from .stock import product_of, products_by_key

BATCH_FIELDS = ("production_date", "expiry_date", "quantity")


class BatchesPlan:
    dup_field = "batch_no"
    unique_fields = ()
    required = ("erp_product_id", "batch_no", "production_date", "expiry_date", "quantity")
    # The change set keeps unchanged rows too: the full replace removes every on-sale batch the file does
    # not name, so applying must know the unchanged batches it names.
    replaces_all = True

    def __init__(self, merchant):
        self.merchant = merchant
        self.named = defaultdict(set)  # product id -> batch numbers the file names for it
        self.excluded_keys = set()  # products left alone (apply valid rows only, with an invalid row)

    def key_of(self, item: Item):
        values = item.values
        if "erp_product_id" in values and "batch_no" in values:
            return (values["erp_product_id"], values["batch_no"])
        return None

    def plan(self, items: list[Item], lock: bool = False) -> list[Outcome]:
        keys = [item.values["erp_product_id"] for item in items if "erp_product_id" in item.values]
        products = products_by_key(merchant=self.merchant, keys=keys, lock=lock)
        query = Batch.objects.filter(product__in=[p.pk for p in products.values()])
        if lock:
            query = query.select_for_update()
        batches = {(b.product_id, b.batch_no): b for b in query}
        return [self._plan_one(item, products, batches) for item in items]

    def _plan_one(self, item: Item, products: dict, batches: dict) -> Outcome:
        values = item.values
        key, errors, product = product_of(item, products, self.required)
        if values.get("quantity", 0) < 0:
            errors["quantity"] = _("quantity cannot be negative")
        produced, expires = values.get("production_date"), values.get("expiry_date")
        if produced and expires and expires <= produced:
            errors["expiry_date"] = _("the expiry date must be after the production date")
        if errors:
            return invalid(item, key, errors)
        if key in self.excluded_keys:
            return invalid(item, key, {"": _("skipped: another row of this product is invalid, and its batches "
                                             "are replaced only all together")})
        self.named[product.pk].add(values["batch_no"])
        new = {name: values[name] for name in BATCH_FIELDS}
        label = f"batch[{values['batch_no']}]"
        existing = batches.get((product.pk, values["batch_no"]))
        old = {name: getattr(existing, name) for name in BATCH_FIELDS} if existing else None
        changes = {label: (old and _batch_text(old), _batch_text(new))} if old != new else {}
        if not product.batch_managed:
            changes["batch_managed"] = (False, True)
        action = NEW if existing is None else CHANGED if changes else UNCHANGED
        return Outcome(item.ref, key, action, changes=changes, product_id=product.pk,
                       payload=(product, existing, values["batch_no"], new))

    def apply(self, outcomes: list[Outcome], actor, reason: str = "") -> int:
        audit = AuditBuffer(self.merchant.pk, actor, reason)
        created, changed = [], []
        for outcome in outcomes:
            if outcome.action not in (NEW, CHANGED):
                continue
            product, batch, batch_no, values = outcome.payload
            if batch is None:
                created.append(Batch(product=product, batch_no=batch_no, **values))
            else:
                for name, value in values.items():
                    setattr(batch, name, value)
                changed.append(batch)
            # batch_managed is in every row's changes for the preview, but is written (and audited) once, by finish.
            audit.add("product", product.pk, {name: change for name, change in outcome.changes.items()
                                              if name != "batch_managed"})
        Batch.objects.bulk_create(created, batch_size=WRITE_BATCH)
        update_many(Batch, changed, list(BATCH_FIELDS))
        audit.flush()
        return len(created) + len(changed)

    def _stale(self, today):
        """On-sale batches of the file's products that the file does not name."""
        for batch in Batch.objects.filter(product_id__in=list(self.named), quantity__gt=0, expiry_date__gt=today):
            if batch.batch_no not in self.named[batch.product_id]:
                yield batch

    def notes(self) -> list[str]:
        """What the preview should say beyond the rows: the batches that the full replace removes."""
        stale = list(self._stale(timezone.localdate()))
        if not stale:
            return []
        products = len({batch.product_id for batch in stale})
        return [ngettext("%(count)d on-sale batch that the file does not name will be removed",
                         "%(count)d on-sale batches that the file does not name will be removed", len(stale))
                % {"count": len(stale)} + " " + ngettext("(%(products)d product).", "(%(products)d products).",
                                                        products) % {"products": products}]

    def finish(self, actor, reason: str = "") -> None:
        """After every row is applied: remove stale batches, make the products batch-managed and set their
        stock to the sum of their on-sale batches (and listing by the listing rule)."""
        today = timezone.localdate()
        audit = AuditBuffer(self.merchant.pk, actor, reason)
        stale = list(self._stale(today))
        for batch in stale:
            audit.add("product", batch.product_id, {f"batch[{batch.batch_no}]": (batch.quantity, None)})
        Batch.objects.filter(pk__in=[batch.pk for batch in stale]).delete()
        totals = dict(
            Batch.objects.filter(product_id__in=list(self.named), quantity__gt=0, expiry_date__gt=today)
            .values_list("product_id").annotate(total=Sum("quantity"))
        )
        now = timezone.now()
        changed, relisted = [], []
        for product in Product.objects.select_for_update().filter(pk__in=list(self.named)):
            stock = totals.get(product.pk, 0)
            values = {
                "batch_managed": True, "stock": stock,
                "listing_state": listing_after(product.listing_state, product.base_product_id is not None, stock,
                                               False),
            }
            changes = {name: (getattr(product, name), value) for name, value in values.items()
                       if getattr(product, name) != value}
            if "listing_state" in changes:
                relisted.append(product.pk)
            if changes:
                for name, value in values.items():
                    setattr(product, name, value)
                product.updated_at = now
                changed.append(product)
                audit.add("product", product.pk, changes)
        update_many(Product, changed, ["batch_managed", "stock", "listing_state", "updated_at"])
        audit.flush()
        # Every named product: a batch's date alone can move sellable stock (expiry exclusion window).
        products_changed(merchant_id=self.merchant.pk, product_ids=list(self.named), kinds=("stock",))
        products_changed(merchant_id=self.merchant.pk, product_ids=relisted, kinds=("listing",))


def _batch_text(values: dict) -> str:
    return f"{values['quantity']} ({values['production_date']} ~ {values['expiry_date']})"
