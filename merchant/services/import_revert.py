"""Taking an applied import back (issue 13): a revert is a new change set of the same kind, reviewed like an
import (row by row, now -> back to) and applied on confirm in one transaction through the import pipeline,
audited with source "revert". Rows whose value changed after the import wrote it are refused, at the preview
and again on confirm (the pipeline's check of rows changed since the preview)."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import ImportJob, ImportKind, ImportRow, ImportStatus, RowAction
from merchant.permissions import Action, Actor
from merchant.services.bulk import PLANS, Item
from merchant.services.bulk.products import PRICE_FIELDS, TEXT_FIELDS
from merchant.spreadsheets.imports.pipeline import CHUNK, _chunks, _reparse, _restorers, _text

# Kinds whose changes are values of existing records, which can be put back. Batches are replaced as a whole
# and logistics ship orders: those are not taken back by a revert.
REVERTIBLE = (ImportKind.PRODUCTS, ImportKind.PRICES, ImportKind.STOCK)
# Fields a products row can put back (others, like the listing state, follow from them by the import rules).
PRODUCT_FIELDS = (*TEXT_FIELDS, *PRICE_FIELDS, "stock", "base_product_id")
DERIVED = {"listing_state"}
OPEN_REVERT = (ImportStatus.PREVIEW, ImportStatus.APPLYING, ImportStatus.APPLIED)


def import_revert_refusal(job: ImportJob) -> str:
    """Why this import cannot be reverted now, or "" when it can."""
    if job.status != ImportStatus.APPLIED:
        return _("Only an applied import can be reverted.")
    if job.kind not in REVERTIBLE:
        return _("Imports of %(kind)s cannot be reverted.") % {"kind": job.get_kind_display()}
    if job.reverted_by.filter(status__in=OPEN_REVERT).exists():
        return _("This import already has a revert.")
    return ""


def _back_values(kind: str, row: ImportRow) -> tuple[dict, dict, str]:
    """The values that put the row back as it was before the import: (item values as text, field -> value the
    import wrote, why it cannot be put back or "")."""
    fields = {field: change for field, change in row.changes.items() if field not in DERIVED}
    if not fields:
        return {}, {}, _("only what follows from the import rules changed here; there is nothing to put back")
    if kind == ImportKind.PRICES:
        (field, (old, _new)), = fields.items()
        return {**row.data, "price": old}, {field: fields[field][1]}, ""
    if kind == ImportKind.STOCK:
        return {"erp_product_id": row.key, "stock": fields["stock"][0]}, {"stock": fields["stock"][1]}, ""
    values = {"erp_product_id": row.key}
    for field, (old, _new) in fields.items():
        if field not in PRODUCT_FIELDS or (old == "" and field not in TEXT_FIELDS):
            # An import cannot empty a price or undo a base-product match: a person does that on the product.
            return {}, {}, _("what the import set here cannot be emptied again by a revert; change it on the "
                             "product page")
        values[field] = old
    return values, {field: new for field, (_old, new) in fields.items()}, ""


@transaction.atomic
def import_revert_preview(*, job: ImportJob, actor: Actor) -> ImportJob:
    """Build the revert of an applied import as a change set waiting for confirmation. Raises ValidationError
    when it cannot be reverted, or PermissionDenied."""
    actor.require(Action.EDIT)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    refusal = import_revert_refusal(job)
    if refusal:
        raise ValidationError(refusal)
    now = timezone.now()
    revert = ImportJob.objects.create(
        merchant=job.merchant, kind=job.kind, status=ImportStatus.PREVIEW, file_name=job.file_name, file_format="",
        uploaded_by=actor.user if getattr(actor.user, "pk", None) else None, validated_at=now, step_started_at=now,
        reverts=job,
    )
    plan = PLANS[job.kind](job.merchant)
    restorers = _restorers(job.kind)
    counts = {RowAction.CHANGED: 0, RowAction.INVALID: 0, RowAction.UNCHANGED: 0}
    applied = job.rows.filter(applied=True, action=RowAction.CHANGED).order_by("row_number")
    for chunk in _chunks(applied.iterator(chunk_size=CHUNK), CHUNK):
        backs = [_back_values(job.kind, row) for row in chunk]
        items = [Item(row.row_number, _reparse(restorers, values)) for row, (values, _w, why) in zip(chunk, backs)
                 if not why]
        outcomes = {outcome.ref: outcome for outcome in plan.plan(items)}
        rows = []
        for row, (values, written, why) in zip(chunk, backs):
            rows.append(_revert_row(revert, row, values, written, why, outcomes.get(row.row_number)))
            counts[rows[-1].action] += 1
        ImportRow.objects.bulk_create(rows, batch_size=CHUNK)
    created = job.rows.filter(applied=True, action=RowAction.NEW).count()
    warnings = [_("%(count)d records this import created stay: a revert puts back changed values only.")
                % {"count": created}] if created else []
    ImportJob.objects.filter(pk=revert.pk).update(
        changed_count=counts[RowAction.CHANGED], invalid_count=counts[RowAction.INVALID],
        unchanged_count=counts[RowAction.UNCHANGED], rows_total=sum(counts.values()), warnings=warnings)
    revert.refresh_from_db()
    return revert


def _revert_row(revert, row, values, written, why, outcome) -> ImportRow:
    """One row of the revert: what goes back (now -> before the import), or refused with the reason."""
    def refused(errors):
        return ImportRow(job=revert, row_number=row.row_number, action=RowAction.INVALID, key=row.key,
                         errors=errors)

    if why:
        return refused([{"column": "", "value": "", "reason": why}])
    if not outcome.valid:
        return refused([{"column": field, "value": "", "reason": reason} for field, reason in outcome.errors.items()])
    errors = []
    for field, wrote in written.items():
        now = _text(outcome.changes[field][0]) if field in outcome.changes else _text(values.get(
            "price" if revert.kind == ImportKind.PRICES else field))
        if now != wrote:
            errors.append({"column": field, "value": now, "reason": _(
                "changed since the import wrote %(wrote)s: now %(now)s; it is not put back") % {
                "wrote": wrote or "—", "now": now or "—"}})
    if errors:
        return refused(errors)
    return ImportRow(job=revert, row_number=row.row_number, action=RowAction.CHANGED, key=row.key, data=values,
                     changes={f: [_text(old), _text(new)] for f, (old, new) in outcome.changes.items()})
