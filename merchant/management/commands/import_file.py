"""Import a spreadsheet from the command line with the same pipeline as the page; prints one JSON line."""
import json
import os
import sys

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, no_translations

from merchant.models import AuditSource, ImportJob, ImportKind, ImportStatus, Merchant, RowAction
from merchant.permissions import Actor
from merchant.services.imports import import_apply_claimed
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.reader import ImportFileError, sniff_format

FIRST_ERRORS = 20


class Command(BaseCommand):
    help = ("Check (and with --apply, apply) an import file: products, prices, batches, stock, customer codes or "
            "logistics (bulk shipping).")

    def add_arguments(self, parser):
        parser.add_argument("merchant_code")
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("file")
        parser.add_argument("--apply", action="store_true", help="apply the change set (else nothing changes)")
        parser.add_argument("--valid-only", action="store_true", help="with --apply: skip invalid rows")

    @no_translations  # one language on the terminal: service messages in English like the command's own
    def handle(self, *args, merchant_code, kind, file, apply, valid_only, **options):
        merchant = Merchant.objects.filter(code=merchant_code).first()
        if merchant is None:
            raise CommandError(f"No merchant with code {merchant_code!r}.")
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        try:
            file_format = sniff_format(file)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        with open(file, "rb") as handle:
            job = ImportJob(merchant=merchant, kind=kind, file_name=os.path.basename(file)[:200],
                            file_format=file_format, file_size=os.path.getsize(file))
            job.file.save(job.file_name, File(handle), save=False)
            job.save()
        try:
            summary, ok = self._run(job, apply, valid_only)
        finally:
            if not apply:  # a check only: leave no trace
                job.file.delete(save=False)
                job.delete()
        self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
        if not ok:
            sys.exit(1)

    def _run(self, job, apply, valid_only):
        validation = pipeline.validate(job)
        summary = {
            "kind": job.kind, "file": job.file_name, "status": job.status, "rows": job.rows_total,
            "new": job.new_count, "changed": job.changed_count, "unchanged": job.unchanged_count,
            "invalid": job.invalid_count, "warnings": job.warnings,
            "timings": {name: round(seconds, 3) for name, seconds in validation.timings.items()},
        }
        if job.status == ImportStatus.FAILED:
            summary["error"] = job.error
            return summary, False
        summary["errors"] = [
            {"row": row.row_number, "column": error["column"], "value": error["value"], "reason": error["reason"]}
            for row in job.rows.filter(action=RowAction.INVALID).order_by("row_number")[:FIRST_ERRORS]
            for error in row.errors
        ][:FIRST_ERRORS]
        if not apply:
            return summary, True
        if job.invalid_count and not valid_only:
            summary["error"] = "Invalid rows: nothing applied (fix them, or pass --valid-only)."
            return summary, False
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLYING, valid_only=valid_only)
        result = import_apply_claimed(job=job, actor=Actor.system(source=AuditSource.IMPORT), valid_only=valid_only)
        if "error" in result:
            summary["error"] = result["error"]
            return summary, False
        summary.update(status=ImportStatus.APPLIED, applied=result["applied"], skipped=result["skipped"])
        return summary, True
