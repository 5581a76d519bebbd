"""Write the xlsx template of an import kind, the same file the import page offers for download."""
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, no_translations

from merchant.spreadsheets.imports.columns import KIND_COLUMNS
from merchant.spreadsheets.imports.template import template_workbook


class Command(BaseCommand):
    help = f"Write the import template of KIND ({' | '.join(KIND_COLUMNS)}) to FILE.xlsx."

    def add_arguments(self, parser):
        parser.add_argument("kind", metavar="KIND", help=f"One of: {', '.join(KIND_COLUMNS)}.")
        parser.add_argument("--out", required=True, metavar="FILE", help="Output file ending in .xlsx.")

    @no_translations  # one language on the terminal: service messages in English like the command's own
    def handle(self, *args, kind, out, **options):
        # Checked here rather than with argparse choices, so the message names every kind the same way from
        # the command line and from call_command.
        if kind not in KIND_COLUMNS:
            raise CommandError(f"Unknown kind {kind!r}: choose one of {', '.join(KIND_COLUMNS)}.")
        path = Path(out)
        if path.suffix.lower() != ".xlsx":
            raise CommandError(f"--out: {out!r} must end in .xlsx.")
        if path.is_dir():
            raise CommandError(f"--out: {out!r} is a directory.")
        content = template_workbook(kind)
        # Written next to the target and renamed, so a failed write never leaves half a file behind.
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        except OSError as error:
            raise CommandError(f"--out: cannot write to {str(path.parent)!r}: {error.strerror}.") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.chmod(tmp_name, 0o666 & ~_umask())
            os.replace(tmp_name, path)
        except OSError as error:
            Path(tmp_name).unlink(missing_ok=True)
            raise CommandError(f"--out: cannot write {out!r}: {error.strerror}.") from None
        self.stdout.write(self.style.SUCCESS(f"Wrote the {kind} import template to {path} ({len(content)} bytes)."))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
