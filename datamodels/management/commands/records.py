"""`manage.py records import|export`: a model's records from and to CSV, JSON Lines or JSON (SPEC §2).

`export MODEL [-o FILE]` streams the records (the list grammar's `--filter`, `--sort`,
`--fields`) to stdout or FILE; `import MODEL FILE` checks every value as the API does
and imports all records or none, listing the first 100 problems (line, field, message)
and their count. Both show a progress bar when they write or read a file. The logic
lives in `datamodels.transfer`.
"""

import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict
from tqdm import tqdm

from datamodels.dynamic import current_schema
from datamodels.transfer.exports import export_plan, stream
from datamodels.transfer.formats import FORMATS, FileRefused, guess_format
from datamodels.transfer.imports import DEFAULT_BATCH, MAX_REPORTED, records_import
from infinity.exceptions import InfinityError


class Command(BaseCommand):
    """Import and export records."""

    help = "Import records from a CSV, JSON Lines or JSON file, or export them to one."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import,export}")
        export = actions.add_parser("export", help="Write a model's records (stdout, or -o FILE).")
        export.add_argument("model", metavar="MODEL")
        export.add_argument("-o", "--output", metavar="FILE", help="Write to FILE (shows a progress bar).")
        export.add_argument("--format", choices=FORMATS, help="Default: from FILE's suffix, else csv.")
        export.add_argument("--filter", action="append", default=[], help="As in lists: field:value, total:>100 …")
        export.add_argument("--sort", action="append", default=[], help="As in lists: field:asc|desc (default: id).")
        export.add_argument("--fields", help="As in lists: id,name,email (default: every field).")
        imp = actions.add_parser("import", help="Check and import every record of FILE, or none.")
        imp.add_argument("model", metavar="MODEL")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument("--format", choices=FORMATS, help="Default: from FILE's suffix.")
        imp.add_argument("--upsert-on", metavar="FIELD", help="Update records whose FIELD (unique, or id) matches.")
        imp.add_argument("--dry-run", action="store_true", help="Check everything and report; write nothing.")
        imp.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N",
                         help=f"Records checked and sent to PostgreSQL at a time (default {DEFAULT_BATCH}).")

    def handle(self, *args, action, **options):
        try:
            {"export": self.export, "import": self.import_}[action](**options)
        except (InfinityError, FileRefused) as exc:
            raise CommandError(_one_line(exc)) from exc

    # --- export -----------------------------------------------------------------------
    def export(self, *, model, output, format, filter, sort, fields, **_):
        fmt = format or (guess_format(output) if output else None) or "csv"
        schema = current_schema()
        entry = schema.get(model)
        if entry is None:
            raise CommandError(f'Unknown model "{model}"')
        params = QueryDict(mutable=True)
        params.setlist("filter", filter)
        params.setlist("sort", sort)
        if fields:
            params["fields"] = fields
        plan = export_plan(entry, schema, params, fmt)
        if not output:
            self._write_stdout(stream(plan))
            return
        self._write_file(plan, output)

    def _write_stdout(self, chunks) -> None:
        target = getattr(self.stdout._out, "buffer", None)
        for chunk in chunks:
            if target is not None:
                target.write(chunk)
            else:
                self.stdout.write(chunk.decode(), ending="")
        if target is not None:
            target.flush()

    def _write_file(self, plan, output: str) -> None:
        partial = f"{output}.part"  # the file appears complete or not at all
        bar = tqdm(total=plan.total(), unit=" records", file=sys.stderr, desc=plan.entry.name)
        written = 0

        def counted(rows):
            nonlocal written
            written += rows
            bar.update(rows)

        try:
            with open(partial, "wb") as file:
                for chunk in stream(plan, on_rows=counted):
                    file.write(chunk)
            os.replace(partial, output)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}") from exc
        finally:
            bar.close()
            if os.path.exists(partial):
                os.remove(partial)
        self.stdout.write(f"Exported {written} record(s) of {plan.entry.name} to {output}.")

    # --- import -----------------------------------------------------------------------
    def import_(self, *, model, file, format, upsert_on, dry_run, batch, **_):
        fmt = format or guess_format(file)
        if fmt is None:
            raise CommandError(f"Cannot tell the format of {file} from its name: pass --format {'|'.join(FORMATS)}")
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        try:
            source = open(file, "rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        with source, tqdm(total=os.fstat(source.fileno()).st_size, unit="B", unit_scale=True, unit_divisor=1024,
                          file=sys.stderr, desc=model) as bar:
            def progress(read: int, records: int):
                bar.update(read - bar.n)
                bar.set_postfix(records=f"{records:,}", refresh=False)

            result = records_import(model=model, source=source, fmt=fmt, upsert_on=upsert_on, dry_run=dry_run,
                                    batch=batch, progress=progress)
        self._report(result, model, file)

    def _report(self, result, model: str, file: str) -> None:
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(f"line {problem['line']}, {problem['field'] or 'row'}: {problem['message']}")
            shown = f" (the first {MAX_REPORTED} are listed)" if result.problem_count > MAX_REPORTED else ""
            raise CommandError(f"{result.problem_count} problem(s) in {file}{shown}; nothing was imported.")
        counts = f"{result.created} created, {result.updated} updated"
        if result.dry_run:
            self.stdout.write(f"Dry run: all {result.records} record(s) are valid ({counts}); nothing was written.")
        else:
            self.stdout.write(f"Imported {result.records} record(s) into {model}: {counts}.")


def _one_line(exc) -> str:
    message = getattr(exc, "message", None) or str(exc)
    details = getattr(exc, "details", None) or []
    if details:
        message += ": " + "; ".join(f"{d.get('field')}: {d.get('message')}" for d in details)
    return " ".join(message.split())
