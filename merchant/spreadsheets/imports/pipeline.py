"""The import pipeline: parse -> validate into a change set (stored for review) -> apply.

validate() streams the file in chunks: cells are parsed per column, each chunk is planned against the
database in a few queries, and rows that would change something or are refused are stored as ImportRows
(unchanged rows are only counted). apply() re-plans the stored rows under row locks inside one
transaction, so what is written is checked against the database as it is then.
"""
import logging
import time
import uuid
from contextlib import closing
from datetime import date, timedelta
from decimal import Decimal
from itertools import islice

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl.utils.cell import range_boundaries
from rq.timeouts import JobTimeoutException

from merchant.models import ImportJob, ImportRow, ImportStatus, Product, RowAction
from merchant.services.bulk import PLANS, Item
from merchant.services.bulk.common import INVALID
from merchant.services.bulk.copy import insert_many, insert_rows
from merchant.spreadsheets.safety import restore_neutralised

from . import cells
from .cells import CellError
from .columns import KIND_COLUMNS, match_header
from .reader import ImportFileError, open_source
from .template import is_example_row

log = logging.getLogger(__name__)
CHUNK = 2000
MAX_STORED_ERRORS_TEXT = 300
# Row actions by row number in a compact array: 1 byte a row, so even a million rows cost 1 MB.
_CODES = {RowAction.NEW: 1, RowAction.CHANGED: 2, RowAction.UNCHANGED: 3, RowAction.INVALID: 4}
_ACTIONS = {code: action for action, code in _CODES.items()}
_ROW_FIELDS = ["job_id", "row_number", "action", "key", "data", "changes", "errors"]


def sync_kinds(changes: dict) -> set[str]:
    """The switch kinds (stock, price) whose next automatic sync would overwrite these changes."""
    kinds = set()
    for field in changes:
        if field == "stock":
            kinds.add("stock")
        elif field in ("default_price", "suggested_retail_price") or field.startswith("price["):
            kinds.add("price")
    return kinds


class StaleChangeSet(Exception):
    """Rows that were valid at review no longer are: the database changed since."""


class InvalidRows(Exception):
    """The change set has invalid rows and applying the valid ones only was not asked for."""


class LeaseLost(Exception):
    """This worker's lease on the step lapsed and the step was given to another attempt: stop, write nothing."""


def check_lease_until():
    return timezone.now() + timedelta(seconds=settings.IMPORT_LEASE_SECONDS)


def progress_key(job_id: int) -> str:
    return f"import:{job_id}:progress"


def progress_report(job_id: int, step: str, done: int, estimate: int | None, started: float) -> None:
    """Progress for the page, kept in the cache: an apply runs in one transaction, which no other
    connection can see into."""
    elapsed = max(time.monotonic() - started, 1e-6)
    cache.set(progress_key(job_id), {"step": step, "done": done, "estimate": estimate,
                                     "rate": round(done / elapsed), "at": time.time()}, 24 * 3600)


def _text(value) -> str:
    if isinstance(value, (date, Decimal)):
        return str(value)
    return "" if value is None else str(value)[:MAX_STORED_ERRORS_TEXT]


class _Reader:
    """Rows of the file as Items (values parsed per column), with the cells as read for error display."""

    def __init__(self, kind: str, source, mapping: dict):
        self.kind, self.source, self.mapping = kind, source, mapping
        self.columns = {column.key: column for column in KIND_COLUMNS[kind]}

    def __iter__(self):
        columns, mapping = self.columns, self.mapping
        example_row = self.source.header_row + 1
        for number, row in self.source.rows():
            values, errors, raw = {}, {}, {}
            for index, key in mapping.items():
                cell = row.get(index)
                if cell is None:
                    continue
                if cell.__class__ is str and cell[:1] == "'":  # cheap test first: this runs for every cell
                    cell = restore_neutralised(cell)
                raw[key] = cell
                try:
                    value = columns[key].parse(cell)
                except CellError as error:
                    errors[key] = str(error)
                    continue
                if value != "":
                    values[key] = value
            if number == example_row and not errors and is_example_row(self.kind, values):
                continue  # the template's example row, left as it was
            if values or errors:
                yield Item(number, values, errors), raw


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Validation:
    """One pass over the file; also records timings for the benchmark (parse vs plan vs store)."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.plan = PLANS[job.kind](job.merchant)
        self.plan_replaces = getattr(self.plan, "replaces_all", False)
        self.columns = KIND_COLUMNS[job.kind]
        self.actions = bytearray()
        self.counts = dict.fromkeys(_CODES, 0)
        self.seen = {field: {} for field in ("key", *self.plan.unique_fields)}
        self.late = []  # (row, field, other row): duplicates whose first row was in an earlier chunk
        self.sync_products = {"stock": set(), "price": set()}
        self.timings = {"parse": 0.0, "validate": 0.0}
        self.token = ""  # the step's lease, set by validate()

    def run(self) -> None:
        job = self.job
        started = time.monotonic()
        source = open_source(job.file.path, job.file_format,
                             is_header=lambda values: bool(match_header(job.kind, values)[0]))
        try:
            mapping, unknown = match_header(job.kind, source.header)
            self._check_columns(mapping, source.header_row)
            warnings = list(source.warnings)
            if unknown:
                warnings.append(_("Columns not recognised, ignored: %(names)s.") % {"names": ", ".join(unknown)})
            job.columns = {str(index): key for index, key in mapping.items()}
            estimate = max((source.estimate or 0) - source.header_row, 0) or None
            ImportJob.objects.filter(pk=job.pk).update(rows_estimate=estimate, columns=job.columns)
            done = 0
            rows = iter(_Reader(job.kind, source, mapping))
            while True:
                tick = time.monotonic()
                chunk = list(islice(rows, CHUNK))
                self.timings["parse"] += time.monotonic() - tick
                if not chunk:
                    break
                self._renew()  # before storing: a worker given up on must not add rows to the next attempt
                tick = time.monotonic()
                self._chunk(chunk)
                self.timings["validate"] += time.monotonic() - tick
                done += len(chunk)
                progress_report(job.pk, "validate", done, estimate, started)
            tick = time.monotonic()
            self.late.extend(getattr(self.plan, "late_duplicates", ()))  # duplicates only the plan can see
            self._invalidate(self._merged_cells(source, mapping) + self._late_duplicates())
            warnings.extend(getattr(self.plan, "notes", list)())
            self.timings["validate"] += time.monotonic() - tick
        finally:
            source.close()
        self._finish(warnings)

    def _renew(self) -> None:
        if not self.token:
            return
        renewed = ImportJob.objects.filter(pk=self.job.pk, status=ImportStatus.VALIDATING,
                                           lease_token=self.token).update(lease_until=check_lease_until())
        if not renewed:
            raise LeaseLost(self.job.pk)

    def _check_columns(self, mapping: dict, header_row: int) -> None:
        present = set(mapping.values())
        missing = [c for c in self.columns if c.required == "always" and c.key not in present]
        if self.job.kind == "customer_codes" and not present & {"uscc", "platform_customer_id"}:
            missing.insert(0, self.columns[0])
        if missing:
            names = ", ".join(f"{c.zh} / {c.en} ({c.key})" for c in missing)
            raise ImportFileError(_("Row %(row)d, the header row, lacks required columns: %(names)s.")
                                  % {"row": header_row, "names": names})

    def _mark_duplicates(self, chunk) -> None:
        first_in_chunk = {}
        for item, _raw in chunk:
            for field, value in (("key", self.plan.key_of(item)),
                                 *((f, item.values.get(f)) for f in self.plan.unique_fields)):
                if value is None:
                    continue
                column = self.plan.dup_field if field == "key" else field
                if column not in item.values:
                    column = next(iter(item.values))
                other = self.seen[field].get(value)
                if other is None:
                    self.seen[field][value] = item.ref
                    first_in_chunk[(field, value)] = item
                    continue
                item.errors[column] = _("the same record is also on row %(row)d") % {"row": other}
                item.values.pop(column, None)
                first = first_in_chunk.get((field, value))
                if first is not None:
                    first.errors[column] = _("the same record is also on row %(row)d") % {"row": item.ref}
                    first.values.pop(column, None)
                else:
                    self.late.append((other, column, item.ref))

    def _chunk(self, chunk) -> None:
        self._mark_duplicates(chunk)
        items = [item for item, _raw in chunk]
        outcomes = self.plan.plan(items)
        rows, job_id = [], self.job.pk
        for (item, raw), outcome in zip(chunk, outcomes):
            self._record(item.ref, outcome.action)
            if outcome.action == RowAction.UNCHANGED and not self.plan_replaces:
                continue
            # A new value for an existing SKU (a changed field, or a new group price): the next automatic sync
            # would overwrite it. Products this import creates have no id yet and are not counted.
            if outcome.product_id:
                for kind in sync_kinds(outcome.changes):
                    self.sync_products[kind].add(outcome.product_id)
            rows.append((
                job_id, item.ref, outcome.action, _text(outcome.key)[:200],
                {key: _text(value) for key, value in item.values.items()} if outcome.valid else {},
                # A new record's own values are in data already; only what the rules derived is added.
                {f: [_text(old), _text(new)] for f, (old, new) in outcome.changes.items()
                 if outcome.action != RowAction.NEW or f not in item.values},
                [{"column": f, "value": _text(raw.get(f)), "reason": reason} for f, reason in outcome.errors.items()],
            ))
        insert_rows(ImportRow, _ROW_FIELDS, rows)

    def _record(self, row: int, action: str) -> None:
        if len(self.actions) <= row:
            self.actions.extend(bytes(row + 1 - len(self.actions) + 1024))
        previous = self.actions[row]
        if previous:
            self.counts[_ACTIONS[previous]] -= 1
        self.actions[row] = _CODES[action]
        self.counts[action] += 1

    def _invalidate(self, marks) -> None:
        """Turn rows already planned into invalid ones (merged cells, duplicates found after their first row was
        stored); marks are (row, column, reason). Rows with no content are left alone. A few queries per
        CHUNK rows, however many marks."""
        errors_by_row = {}
        for row, column, reason in marks:
            if row < len(self.actions) and self.actions[row]:
                errors_by_row.setdefault(row, {})[column] = {"column": column, "value": "", "reason": reason}
        rows = sorted(errors_by_row)
        for start in range(0, len(rows), CHUNK):
            numbers = rows[start:start + CHUNK]
            stored = {r.row_number: r for r in ImportRow.objects.filter(job=self.job, row_number__any=numbers)}
            created = []
            for number in numbers:
                marked = errors_by_row[number]
                existing = stored.get(number)
                if existing is None:
                    created.append(ImportRow(job=self.job, row_number=number, action=INVALID,
                                             errors=list(marked.values())))
                else:
                    existing.errors = [e for e in existing.errors if e["column"] not in marked] + list(marked.values())
                    existing.action, existing.data = INVALID, {}
                self._record(number, INVALID)
            ImportRow.objects.bulk_update(stored.values(), ["action", "errors", "data"], batch_size=CHUNK)
            insert_many(ImportRow, created)

    def _late_duplicates(self) -> list:
        return [(row, column, _("the same record is also on row %(row)d") % {"row": other})
                for row, column, other in self.late]

    def _merged_cells(self, source, mapping: dict) -> list:
        """Marks for the rows read that merged ranges cover, at most one per row and column: ranges may repeat or
        overlap in a crafted sheet, and each must not cost a mark per row again."""
        indexes = sorted(mapping)
        last_read = len(self.actions) - 1
        spans = {}  # column key -> [(first row, last row, reason)]
        for ref in source.merged_ranges:
            min_col, min_row, max_col, max_row = range_boundaries(ref)
            column = next((mapping[i] for i in indexes if min_col <= i <= max_col), None)
            # Only rows that were read can be invalidated: a range down to the sheet's end (B3:B1048576) must not
            # cost a million marks.
            first, last = max(min_row, source.header_row + 1), min(max_row, last_read)
            if column is None or first > last:
                continue
            reason = _("merged cells %(range)s: unmerge them and fill in every cell") % {"range": ref}
            spans.setdefault(column, []).append((first, last, reason))
        marks = []
        for column, ranges in spans.items():
            ranges.sort(key=lambda span: span[:2])
            next_row = 0
            for first, last, reason in ranges:
                marks.extend((row, column, reason) for row in range(max(first, next_row), last + 1))
                next_row = max(next_row, last + 1)
        return marks

    def _finish(self, warnings: list[str]) -> None:
        job = self.job
        job.status = ImportStatus.PREVIEW
        job.validated_at = timezone.now()
        job.warnings = warnings
        job.new_count, job.changed_count = self.counts[RowAction.NEW], self.counts[RowAction.CHANGED]
        job.unchanged_count, job.invalid_count = self.counts[RowAction.UNCHANGED], self.counts[RowAction.INVALID]
        job.rows_total = sum(self.counts.values())
        job.sync_on = {kind: len(ids_with_sync_on(job.merchant, ids, kind))
                       for kind, ids in self.sync_products.items() if ids}
        job.lease_until, job.lease_token = None, ""
        fields = ("status", "validated_at", "warnings", "new_count", "changed_count", "unchanged_count",
                  "invalid_count", "rows_total", "sync_on", "columns", "lease_until", "lease_token")
        mine = ImportJob.objects.filter(pk=job.pk)
        if self.token:
            mine = mine.filter(status=ImportStatus.VALIDATING, lease_token=self.token)
        if not mine.update(**{name: getattr(job, name) for name in fields}):
            raise LeaseLost(job.pk)


def ids_with_sync_on(merchant, product_ids, kind: str) -> list[int]:
    """Of these products, those whose automatic sync of kind (stock or price) is on now."""
    from merchant.services.switches import sku_sync_pauses

    ids = list(product_ids)
    paused = sku_sync_pauses(merchant, ids, kind)
    return [pk for pk in ids if pk not in paused]


def validate(job: ImportJob) -> Validation:
    """Check the file into a change set; the job ends in preview, or failed with the reason. Claims the step's
    lease first: a queued check, or one whose worker's lease lapsed; otherwise another worker has it, and
    nothing is done."""
    now, token = timezone.now(), uuid.uuid4().hex
    lapsed = Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    claimed = ImportJob.objects.filter(pk=job.pk).filter(
        Q(status=ImportStatus.QUEUED) | Q(lapsed, status=ImportStatus.VALIDATING)
    ).update(status=ImportStatus.VALIDATING, step_started_at=now, error="", lease_token=token,
             lease_until=check_lease_until())
    job.refresh_from_db()
    validation = Validation(job)
    if not claimed:
        return validation
    validation.token = token
    ImportRow.objects.filter(job=job).delete()  # a re-run after a crash starts clean
    try:
        validation.run()
    except LeaseLost:
        log.warning("import %s: this check was given up on (its lease lapsed); another attempt has it", job.pk)
        job.refresh_from_db()
    except ImportFileError as error:
        _fail(job, str(error), token)
    except JobTimeoutException:
        # RQ's hard limit (IMPORT_JOB_TIMEOUT): checking again would only hit it again.
        _fail(job, _("Checking the file took longer than the limit of %(minutes)d minutes and was stopped; nothing "
                     "was changed. Split the file into smaller ones and upload them.")
              % {"minutes": max(settings.IMPORT_JOB_TIMEOUT // 60, 1)}, token)
        raise
    except Exception:
        log.exception("import %s: validation failed", job.pk)
        _fail(job, _("The file could not be checked because of an internal error; nothing was changed. "
                     "Try again, or contact support with import number %(id)d.") % {"id": job.pk}, token)
    return validation


def _fail(job: ImportJob, message: str, token: str) -> None:
    # Only while this worker still holds the step: one given up on leaves the next attempt alone.
    failed = ImportJob.objects.filter(pk=job.pk, lease_token=token).update(
        status=ImportStatus.FAILED, error=message, rows_total=0, new_count=0, changed_count=0, unchanged_count=0,
        invalid_count=0, lease_until=None, lease_token="")
    if failed:
        from merchant.services.notifications import import_outcome_notify

        ImportRow.objects.filter(job=job).delete()
        import_outcome_notify(job=job, reason=message)
    job.refresh_from_db()


def _restorers(kind: str) -> dict:
    """How each stored value (text written by _text from an already parsed value) becomes that value
    again: the plain constructor for numbers and dates, as it is for text, which is already normalised."""
    restore = {cells.to_decimal: Decimal, cells.to_int: int, cells.to_date: date.fromisoformat}
    return {column.key: restore.get(column.parse, str) for column in KIND_COLUMNS[kind]}


def _reparse(restorers: dict, data: dict) -> dict:
    return {key: restorers[key](value) for key, value in data.items()}


def moved_since_preview(action: str, changes: dict, outcome) -> dict:
    """The fields this row would write whose value in force is no longer the one the preview showed:
    field -> [value at preview, value now, value in the file], as text; empty when the row is as reviewed.

    A field the preview did not list as changing held the file's value then; a row new at preview whose
    record now exists was created meanwhile (it had no value at preview)."""
    if outcome.action not in (RowAction.NEW, RowAction.CHANGED):
        return {}
    if action == RowAction.NEW:
        if outcome.action == RowAction.NEW:
            return {}
        return {field: ["", _text(old), _text(new)] for field, (old, new) in outcome.changes.items()}
    moved = {}
    for field, (old, new) in outcome.changes.items():
        at_preview = changes[field][0] if field in changes else _text(new)
        if at_preview != _text(old):
            moved[field] = [at_preview, _text(old), _text(new)]
    return moved


def _mark_applied(job: ImportJob, numbers: list[int]) -> None:
    """ImportRow.applied for the rows written, in one statement on PostgreSQL: one per chunk re-read the
    whole change set each time (the table's statistics, taken before validate stored it, promise a few
    rows, so the planner scans): 22 s of a profiled 100,000-row apply. Other databases take the list in
    chunks (their limit on parameters)."""
    step = len(numbers) if connection.vendor == "postgresql" else CHUNK
    for start in range(0, len(numbers), max(step, 1)):
        ImportRow.objects.filter(job=job, row_number__any=numbers[start:start + step]).update(applied=True)


def apply(job: ImportJob, *, actor, valid_only: bool = False, pause_until=None, pause_kinds=(), finish=None) -> dict:
    """Apply a reviewed change set in one transaction. Returns counts; raises StaleChangeSet (nothing
    written) when a row is no longer valid and valid_only is off, and InvalidRows (nothing written) when
    the change set has invalid rows and valid_only is off. `finish(counts)` runs last inside the transaction
    (to record the outcome with it); whatever it raises rolls everything back."""
    from merchant.services.switches import sku_switch_set

    started = time.monotonic()
    if not valid_only and ImportRow.objects.filter(job=job, action=RowAction.INVALID).exists():
        raise InvalidRows(job.invalid_count)
    plan = PLANS[job.kind](job.merchant)
    applied_actions = [RowAction.NEW, RowAction.CHANGED]
    if getattr(plan, "replaces_all", False):
        # A full replace must see every row the file names, unchanged ones included: a record the file
        # names without changing it is kept, not removed as stale.
        applied_actions.append(RowAction.UNCHANGED)
    rows = ImportRow.objects.filter(job=job, action__in=applied_actions).order_by("row_number")
    if hasattr(plan, "excluded_keys") and valid_only:
        plan.excluded_keys = set(
            ImportRow.objects.filter(job=job, action=RowAction.INVALID).exclude(key="").values_list("key", flat=True))
    if job.reverts_id:
        reason = _("import #%(id)d, the revert of import #%(original)d") % {"id": job.pk, "original": job.reverts_id}
    else:
        reason = _("import #%(id)d (%(file)s)") % {"id": job.pk, "file": job.file_name}
    applied = skipped = done = 0
    touched = {"stock": set(), "price": set()}
    restorers = _restorers(job.kind)
    moved_rows = 0
    applied_rows = []
    # The rows are read through a server-side cursor on PostgreSQL: closing it before the transaction ends (even
    # when a chunk fails) keeps a failure from leaving a cursor to close after the rollback, which would fail.
    with transaction.atomic(), closing(
            rows.values_list("row_number", "data", "action", "changes").iterator(chunk_size=CHUNK)) as stored:
        for chunk in _chunks(stored, CHUNK):
            items = [Item(number, _reparse(restorers, data)) for number, data, _action, _changes in chunk]
            previews = {number: (action, changes) for number, _data, action, changes in chunk}
            outcomes = plan.plan(items, lock=True)
            refused = [outcome for outcome in outcomes if not outcome.valid]
            if refused and not valid_only:
                raise StaleChangeSet(refused)
            skipped += len(refused)
            valid, moved = [], {}
            for outcome in outcomes:
                if outcome.valid:
                    since = moved_since_preview(*previews[outcome.ref], outcome)
                    if since:
                        moved[outcome.ref] = since
                    else:
                        valid.append(outcome)
            # Rows whose target changed after the preview are left out: the merchant sees them and checks the
            # file again to include them, rather than the file overwriting newer data.
            for number, since in moved.items():
                ImportRow.objects.filter(job=job, row_number=number).update(stale=since)
            moved_rows += len(moved)
            applied_rows.extend(o.ref for o in valid if o.action in (RowAction.NEW, RowAction.CHANGED))
            # Before plan.apply, which gives the products it creates their ids: the pause covers the SKUs the
            # preview counted (existing ones), not new products.
            for outcome in valid:
                for kind in sync_kinds(outcome.changes) if outcome.product_id else ():
                    touched[kind].add(outcome.product_id)
            applied += plan.apply(valid, actor, reason)
            done += len(chunk)
            progress_report(job.pk, "apply", done, job.new_count + job.changed_count, started)
        _mark_applied(job, applied_rows)
        if hasattr(plan, "finish"):
            # A plan that writes at the end (logistics: a parcel's rows may be far apart) may still refuse a row.
            refused = plan.finish(actor, reason)
            if refused:
                raise StaleChangeSet(refused)
        paused = 0
        for kind in pause_kinds:
            ids = ids_with_sync_on(job.merchant, touched[kind], kind)
            if ids:
                sku_switch_set(products=Product.objects.filter(pk__in=ids), kind=kind, enabled=False,
                               until=pause_until, actor=actor, reason=reason)
                paused += len(ids)
        result = {"applied": applied, "skipped": skipped + (job.invalid_count if valid_only else 0), "paused": paused,
                  "stale": moved_rows}
        if finish is not None:
            finish(result)
    return result
