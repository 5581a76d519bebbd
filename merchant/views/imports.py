"""Imports (SPEC M4): upload, progress, review of the change set, confirm, summary, downloads."""
import time

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext as _, gettext_lazy, pgettext

from merchant.forms import ImportConfirmForm, ImportUploadForm, pause_until
from merchant.models import CustomerGroup, ImportJob, ImportKind, ImportStatus, RegionGroup, RowAction
from merchant.permissions import Action
from merchant.services import import_revert, imports
from merchant.spreadsheets.imports.annotate import annotated_workbook
from merchant.spreadsheets.imports.columns import KIND_COLUMNS
from merchant.spreadsheets.imports.pipeline import progress_key
from merchant.spreadsheets.imports.reader import ImportFileError
from merchant.spreadsheets.imports.template import template_workbook
from merchant.views.common import flash_errors, form_error_from, merchant_view, paginate

POST = ("POST",)
RUNNING = (ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.APPLYING)
STALE_SHOWN = 200  # rows left out as changed since the preview, listed on the page (the count says how many)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FIELD_LABELS = {
    "listing_state": gettext_lazy("listing state"), "base_product_id": gettext_lazy("base product"),
    "batch_managed": gettext_lazy("batch-managed"), "erp_code": gettext_lazy("ERP customer code"),
    "status": gettext_lazy("order status"), "shipment": gettext_lazy("ships"),
    "default_price": gettext_lazy("Default price"), "suggested_retail_price": gettext_lazy("Suggested retail price"),
    "": gettext_lazy("row"),
}


def get_import_for_user(request, pk) -> ImportJob:
    return get_object_or_404(ImportJob, merchant=request.merchant, pk=pk)


@merchant_view(methods=("GET", "POST"))
def import_list(request):
    form = ImportUploadForm(initial={"kind": request.GET.get("kind", ImportKind.PRODUCTS)})
    status = 200
    if request.method == "POST":
        request.actor.require(Action.EDIT)
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = imports.import_upload(merchant=request.merchant, kind=form.cleaned_data["kind"],
                                            uploaded_file=form.cleaned_data["file"], actor=request.actor)
                return redirect(job)
            except ValidationError as error:
                form_error_from(form, error)
        status = 400
    jobs = ImportJob.objects.filter(merchant=request.merchant).select_related("uploaded_by", "applied_by")
    return render(request, "merchant/imports/list.html", {
        "form": form, "page": paginate(request, jobs), "kinds": ImportKind.choices,
    }, status=status)


@merchant_view()
def import_template(request, kind):
    if kind not in ImportKind.values:
        raise Http404
    response = HttpResponse(template_workbook(kind), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="import-{kind}-template.xlsx"'
    return response


class _Labels(dict):
    """Field labels of a change set; a group price (price[CODE]) is named by its group's name."""

    def get(self, field, default=None):
        if field in self:
            return self[field]
        if field.startswith("price[") and field.endswith("]"):
            if not hasattr(self, "groups"):
                self.groups = {**dict(RegionGroup.objects.values_list("code", "name")),
                               **dict(CustomerGroup.objects.values_list("code", "name"))}
            code = field[6:-1]
            return _("%(group)s price") % {"group": self.groups.get(code, code)}
        return default


def _labels(kind: str) -> dict:
    zh = (get_language() or "").startswith("zh")
    labels = {column.key: column.zh if zh else column.en for column in KIND_COLUMNS[kind]}
    return _Labels({**FIELD_LABELS, **labels})


def _changes(row) -> dict:
    """A new record's values come from its data; changes hold what the rules derived (listing, match). A new
    group price is its one derived change (its group's price); the row's codes would only repeat it."""
    if row.action != RowAction.NEW or (row.job.kind == ImportKind.PRICES and row.changes):
        return row.changes
    return {**{field: ["", value] for field, value in row.data.items()}, **row.changes}


def _row_view(row, labels):
    return {
        "number": row.row_number, "action": row.action, "key": row.key, "stale": bool(row.stale),
        "action_label": pgettext("revert row state", "Cannot be put back")
        if row.action == RowAction.INVALID and row.job.reverts_id else RowAction(row.action).label,
        "changes": [(labels.get(field, field), old, new) for field, (old, new) in _changes(row).items()],
        "errors": [(labels.get(e["column"], e["column"]), e["value"], e["reason"]) for e in row.errors],
    }


def _stale_rows(job, labels) -> list:
    """Rows left out on confirm because their target changed after the preview: (row, key, [(field, value at
    preview, value now, value in the file)])."""
    rows = job.rows.exclude(stale={}).order_by("row_number")[:STALE_SHOWN] if job.stale_count else ()
    return [(row.row_number, row.key, [(labels.get(field, field), *values) for field, values in row.stale.items()])
            for row in rows]


@merchant_view()
def import_detail(request, pk):
    job = get_import_for_user(request, pk)
    show = request.GET.get("show", "")
    rows = job.rows.order_by("row_number")
    if show in RowAction.values:
        rows = rows.filter(action=show)
    page = paginate(request, rows)
    labels = _labels(job.kind)
    progress = cache.get(progress_key(job.pk))
    return render(request, "merchant/imports/detail.html", {
        "job": job, "running": job.status in RUNNING, "show": show, "page": page,
        "rows": [_row_view(row, labels) for row in page.object_list],
        "confirm_form": ImportConfirmForm(initial={"valid_only": bool(job.invalid_count)}),
        "progress": progress,
        "stalled": imports.import_stalled(job, progress),
        "filters": [(RowAction.NEW, job.new_count), (RowAction.CHANGED, job.changed_count),
                    (RowAction.INVALID, job.invalid_count)],
        "stale_rows": _stale_rows(job, labels),
        "stale_shown": STALE_SHOWN,
        "reverted_by": job.reverted_by.filter(status__in=import_revert.OPEN_REVERT).order_by("-pk").first(),
        "revert_refusal": import_revert.import_revert_refusal(job),
    })


@merchant_view()
def import_progress(request, pk):
    job = get_import_for_user(request, pk)
    progress = cache.get(progress_key(job.pk)) or {}
    step = {ImportStatus.VALIDATING: "validate", ImportStatus.APPLYING: "apply"}.get(job.status)
    if progress.get("step") != step:
        progress = {}
    done, estimate = progress.get("done", 0), progress.get("estimate")
    return JsonResponse({
        "status": job.status, "status_label": job.get_status_display(), "running": job.status in RUNNING,
        "done": done, "estimate": estimate, "rate": progress.get("rate", 0),
        "percent": min(100, round(100 * done / estimate)) if estimate else None,
        "age": round(time.time() - progress["at"]) if progress.get("at") else None,
    })


@merchant_view(Action.EDIT, methods=POST)
def import_confirm(request, pk):
    job = get_import_for_user(request, pk)
    form = ImportConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The confirmation could not be read; try again."))
        return redirect(job)
    try:
        imports.import_confirm(
            job=job, actor=request.actor, valid_only=form.cleaned_data["valid_only"],
            pause_kinds=form.pause_kinds(), pause_until=pause_until(form.cleaned_data.get("pause_for") or ""),
        )
    except ValidationError as error:
        flash_errors(request, error)
    return redirect(job)


@merchant_view(Action.EDIT, methods=POST)
def import_recheck(request, pk):
    job = get_import_for_user(request, pk)
    try:
        again = imports.import_recheck(job=job, actor=request.actor)
    except ValidationError as error:
        flash_errors(request, error)
        return redirect(job)
    messages.success(request, _("The file is being checked again against the data now in force."))
    return redirect(again)


@merchant_view(Action.EDIT, methods=POST)
def import_revert_preview(request, pk):
    job = get_import_for_user(request, pk)
    try:
        revert = import_revert.import_revert_preview(job=job, actor=request.actor)
    except ValidationError as error:
        flash_errors(request, error)
        return redirect(job)
    return redirect(revert)


@merchant_view(Action.EDIT, methods=POST)
def import_restart(request, pk):
    job = get_import_for_user(request, pk)
    try:
        imports.import_restart(job=job, actor=request.actor, progress=cache.get(progress_key(job.pk)))
    except ValidationError as error:
        flash_errors(request, error)
    return redirect(job)


@merchant_view(Action.EDIT, methods=POST)
def import_cancel(request, pk):
    job = get_import_for_user(request, pk)
    try:
        imports.import_cancel(job=job, actor=request.actor)
        messages.success(request, _("The import was cancelled; nothing was changed."))
    except ValidationError as error:
        flash_errors(request, error)
    return redirect("import_list")


@merchant_view()
def import_annotated(request, pk):
    job = get_import_for_user(request, pk)
    if job.status not in (ImportStatus.PREVIEW, ImportStatus.APPLYING, ImportStatus.APPLIED) or not job.file:
        raise Http404
    try:
        chunks = annotated_workbook(job, only_invalid=request.GET.get("only") == "invalid")
    except ImportFileError as error:
        messages.error(request, str(error))
        return redirect(job)
    response = StreamingHttpResponse(chunks, content_type=XLSX)
    stem = job.file_name.rsplit(".", 1)[0]
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-checked.xlsx")
    return response
