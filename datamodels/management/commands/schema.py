"""`manage.py schema export|apply`: data-model definitions as a JSON schema file (SPEC §2).

`export` writes every model (stdout, or `-o FILE`); `apply FILE` makes the database
match the file in one transaction and prints the plan, one line per change. Bad
input exits non-zero with a one-line reason and changes nothing. The logic lives
in `datamodels.schemafile`.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from datamodels.schemafile import dumps, schema_apply, schema_export
from infinity.exceptions import SchemaError


class Command(BaseCommand):
    """Export and apply schema files."""

    help = "Export data-model definitions to a JSON schema file, or apply one."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{export,apply}")
        export = actions.add_parser("export", help="Write every data model as a schema file.")
        export.add_argument("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
        apply = actions.add_parser("apply", help="Create and alter data models to match a schema file.")
        apply.add_argument("file", metavar="FILE", help="The schema file (JSON); - reads stdin.")
        apply.add_argument("--prune", action="store_true", help="Also remove models and fields the file lacks.")
        apply.add_argument("--dry-run", action="store_true", help="Print the plan and check it; change nothing.")
        apply.add_argument("--force", action="store_true", help="Allow retypes that lose values that do not fit.")

    def handle(self, *args, action, **options):
        {"export": self.export, "apply": self.apply}[action](**options)

    def export(self, *, output, **_):
        document = schema_export()
        text = dumps(document)
        if not output:
            self.stdout.write(text, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}") from exc
        self.stdout.write(f"Wrote {len(document['models'])} model(s) to {output}.")

    def apply(self, *, file, prune, dry_run, force, **_):
        document = _read_document(file)
        try:
            plan = schema_apply(document, prune=prune, dry_run=dry_run, force=force)
        except SchemaError as exc:
            raise CommandError(" ".join(exc.message.split("\n"))) from exc
        for operation in plan:
            self.stdout.write(str(operation))
        if not plan:
            self.stdout.write("Schema is up to date.")
        elif dry_run:
            self.stdout.write(f"Dry run: {len(plan)} change(s), nothing applied.")
        else:
            self.stdout.write(f"Applied {len(plan)} change(s).")


def _read_document(path: str):
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CommandError(f"Cannot read {path}: not UTF-8 text") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except ValueError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from exc


def _reject_constant(name: str):
    # Python accepts NaN and Infinity; JSON does not, and an export must stay valid JSON.
    raise ValueError(f"{name} is not a JSON value")
