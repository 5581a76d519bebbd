"""Rewrite the generated field tables of docs/api.md from the OpenAPI document (after changing an item field)."""
from django.core.management.base import BaseCommand, CommandError

from merchant.api.docs_tables import DOC_PATH, with_tables


class Command(BaseCommand):
    help = "Rewrite the field tables of docs/api.md from the schema the server enforces."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only say whether docs/api.md is up to date.")

    def handle(self, *args, check=False, **options):
        text = DOC_PATH.read_text(encoding="utf-8")
        try:
            new = with_tables(text)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if check:
            if new != text:
                raise CommandError("docs/api.md is out of date: run python manage.py api_docs")
            self.stdout.write("docs/api.md is up to date")
            return
        DOC_PATH.write_text(new, encoding="utf-8")
        self.stdout.write("docs/api.md rewritten" if new != text else "docs/api.md was up to date")
