"""Import: a file of records into a data model, checked as the API checks, all or nothing.

`records_import` runs in one transaction, which holds the schema steady (a share lock
on the schema-state row, so no definition changes under it). A plain import (no
upsert, no dry run, no to-many relation, a file that can be read twice) first takes the
straight path, `_import_straight`: each record is validated by the records services' own
`clean_record` (the API's check) and COPied into the model's table itself, whose primary
key, unique indexes and foreign keys then refuse what only the whole file shows. A
clean file is done in that one pass. At the first problem of any kind that attempt is
rolled back (a savepoint) and the staging path runs, which finds and reports them all:

1. each record is read (`formats`) and validated by `clean_record`, field by field;
2. valid rows go through COPY into a temporary staging table (to-many ids as arrays);
3. `checks` finds in SQL what only the whole file shows: ids and unique values that
   repeat in the file or clash with the table, relations to records that exist in
   neither the file nor the table;
4. with no problem at all (and not a dry run), `INSERT … SELECT` (and, for upserts,
   `UPDATE … FROM`) writes every row, then the to-many links.

Rows are sent by a psycopg writer thread (`QueuedLibpqWriter`), so validating the next
rows overlaps the server taking in the last ones.

Any problem, an error or an interruption rolls everything back: nothing is written.
Record ids in the file are kept when they are valid record ids (`rec_` + a ULID),
otherwise new ones are made; `created_at`/`updated_at` are kept when given.

The rows are written by COPY into the table or by ordinary INSERT and UPDATE
statements; both fire every INSERT/UPDATE trigger on the table as any other write
does: the row count (`datamodels.rowcount`) and the change feed that webhooks and
embeddings follow. Nothing here disables triggers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field
from datetime import datetime
from typing import BinaryIO, Callable

import orjson
import psycopg
from psycopg.copy import QueuedLibpqWriter
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pgvector import Vector

from infinity.exceptions import NotFound

from ..dynamic import ModelEntry, current_schema
from ..fieldtypes import InvalidValue, field_type
from ..fieldtypes.scalars import parse_datetime
from ..records import clean_record, new_record_id
from . import checks
from .formats import FileRefused, NotJson, Reader, RowProblem

MAX_REPORTED = 100
DEFAULT_BATCH = 10_000
RECORD_ID = re.compile(r"rec_[0-9A-HJKMNP-TV-Z]{26}")
PLAIN_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")


@dataclass
class ImportResult:
    """What an import did (or, in a dry run, would do), or the problems that stopped it."""

    records: int = 0
    created: int = 0
    updated: int = 0
    problems: list[dict] = dc_field(default_factory=list)  # the first MAX_REPORTED, by line
    problem_count: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: RowProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(problem.as_dict())


@dataclass
class Staging:
    """The temporary table rows are copied into, and how each column is encoded for COPY."""

    entry: ModelEntry
    single: list  # fields stored in a column of the model's table
    many: list  # to-many relation fields, staged as arrays of ids
    table: str = "infinity_import"
    direct: bool = False  # rows go straight into the model's table (no line numbers, no to-many)

    @classmethod
    def of(cls, entry: ModelEntry) -> Staging:
        many = [f for f in entry.fields if f.type == "relation" and f.many]
        return cls(entry, [f for f in entry.fields if f not in many], many)

    @classmethod
    def straight(cls, entry: ModelEntry) -> Staging:
        return cls(entry, list(entry.fields), [], entry.definition.db_table, direct=True)

    def create(self) -> None:
        columns = [f'"{f.column}" {field_type(f.type).sql_type(f)}' for f in self.single]
        columns += [f'"m_{f.pk}" text[]' for f in self.many]
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{self.table}"')
            cursor.execute(
                f'CREATE TEMP TABLE "{self.table}" (line bigint NOT NULL, id varchar(30) NOT NULL, '
                "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, target_id varchar(30), "
                f"{', '.join(columns) or 'nothing boolean'}) ON COMMIT DROP")

    def copy_sql(self) -> str:
        names = [*(() if self.direct else ("line",)), "id", "created_at", "updated_at",
                 *(f'"{f.column}"' for f in self.single), *(f'"m_{f.pk}"' for f in self.many)]
        return f'COPY "{self.table}" ({", ".join(names)}) FROM STDIN'

    def encoders(self) -> list[tuple[str, Callable]]:
        """(attname in `CleanRecord.columns`, encoder or None) per single column, in COPY order."""
        return [(field_type(f.type).attname(f), _encoder(f)) for f in self.single]


def _encoder(field) -> Callable | None:
    if field.type == "json":
        return lambda value: None if value is None else orjson.dumps(value).decode()
    if field.type == "vector":
        return lambda value: None if value is None else Vector._to_db(value)
    return None  # psycopg writes the value as it is


def records_import(*, model: str, source: BinaryIO, fmt: str, upsert_on: str | None = None, dry_run: bool = False,
                   batch: int = DEFAULT_BATCH, mapping: dict | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import `source` (a binary file) into `model`; see the module docstring.

    Raises `FileRefused` when the file cannot be read as a whole, `NotFound` for an unknown
    model; row problems come back in the result (and nothing is written). `progress(bytes,
    records)` is called after each batch with the bytes read and records seen so far.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:  # schema changes wait until the import is done
            cursor.execute("SELECT version FROM datamodels_schemastate WHERE id = 1 FOR SHARE")
        entry = current_schema().get(model)
        if entry is None:
            raise NotFound(f'Unknown model "{model}"')
        _check_upsert_field(entry, upsert_on)
        if _can_go_straight(entry, source, upsert_on, dry_run):
            start = source.tell()
            result = _import_straight(entry, source, fmt, mapping, max(1, batch), progress)
            if result is not None:
                return result
            source.seek(start)  # a problem somewhere: the staging path finds and reports them all
        result = ImportResult(dry_run=dry_run)
        reader = Reader(entry, source, fmt, mapping)
        staging = Staging.of(entry)
        staging.create()
        _stage(staging, reader, result, max(1, batch), progress)
        if result.records == 0 and result.ok:
            raise FileRefused("The file holds no records")
        written = _check_and_write(staging, reader.columns, upsert_on, result, dry_run)
        if not written:
            transaction.set_rollback(True)
    return result


def _can_go_straight(entry: ModelEntry, source: BinaryIO, upsert_on, dry_run: bool) -> bool:
    """A plain import (no upsert, no dry run, no to-many links to write) of a file that can be read again."""
    if upsert_on is not None or dry_run or any(f.type == "relation" and f.many for f in entry.fields):
        return False
    seekable = getattr(source, "seekable", None)
    return bool(seekable and seekable())


class _Refused(Exception):
    """A row the straight path cannot take: back to the staging path, which reports every problem."""


def _import_straight(entry: ModelEntry, source: BinaryIO, fmt: str, mapping, batch: int,
                     progress) -> ImportResult | None:
    """The fast path for a clean file: every row, checked as the staging path checks it, is
    COPied straight into the model's table (one COPY; its INSERT triggers fire as for any
    write), and the table's own constraints (primary key, unique indexes, relations) refuse
    a repeated id or value or a dangling relation. The first problem of any kind rolls the
    COPY back (a savepoint) and returns None; the caller then runs the staging path, which
    finds and reports them all. A clean file costs one pass: no staging table, no checks,
    no second write."""
    result = ImportResult()
    reader = Reader(entry, source, fmt, mapping)
    try:
        with transaction.atomic():
            _stage(Staging.straight(entry), reader, result, batch, progress)
    except (_Refused, psycopg.errors.IntegrityError, IntegrityError):
        return None
    if result.records == 0:
        raise FileRefused("The file holds no records")
    result.created = result.records
    return result


def _check_upsert_field(entry: ModelEntry, upsert_on: str | None) -> None:
    if upsert_on is None or upsert_on == "id":
        return
    field = entry.by_name.get(upsert_on)
    if field is None or not field.unique:
        unique = ", ".join(["id", *(f.name for f in entry.fields if f.unique)])
        raise FileRefused(f'--upsert-on needs a unique field of {entry.name} (one of: {unique}), not "{upsert_on}"')


def _stage(staging: Staging, reader: Reader, result: ImportResult, batch: int, progress) -> None:
    """Validate every record and COPY the valid ones into the staging table, `batch` at a time."""
    make = _RowMaker(staging, timezone.now())
    rows: list[tuple] = []
    with connection.cursor() as cursor, _copy_in(cursor, staging.copy_sql()) as copy:
        for item in reader:
            result.records += 1
            row = make(item, result)
            if row is not None:
                rows.append(row)
            if len(rows) >= batch:
                _send(copy, rows)
                if progress is not None:
                    progress(reader.bytes_read, result.records)
        _send(copy, rows)
    if progress is not None:
        progress(reader.bytes_read, result.records)


def _copy_in(cursor, sql: str):
    """COPY … FROM STDIN whose bytes a thread of psycopg's sends (`QueuedLibpqWriter`), so
    checking the next rows goes on while the server takes the last ones in."""
    return cursor.copy(sql, writer=QueuedLibpqWriter(cursor.cursor))


def _send(copy, rows: list) -> None:
    for row in rows:
        copy.write_row(row)
    rows.clear()


class _RowMaker:
    """Turns a read record into a staging row (or its problems), with what is the same for every row worked out once."""

    def __init__(self, staging: Staging, now):
        self.entry, self.now, self.many = staging.entry, now, staging.many
        self.encoders = staging.encoders()
        self.direct = staging.direct
        self.json_fields = [f.name for f in staging.entry.fields if f.type == "json"]
        self.now_text = now.isoformat()  # sent as text: see `_timestamp`

    def __call__(self, item, result: ImportResult) -> tuple | None:
        """One record as a staging row, or None (its problems added to `result`)."""
        if isinstance(item, RowProblem):
            if self.direct:
                raise _Refused
            result.add(item)
            return None
        line, data = item
        pop = data.pop  # the system keys are not fields: out before the check
        record_id, created_at, updated_at = pop("id", None), pop("created_at", None), pop("updated_at", None)
        problems = [RowProblem(line, name, "Must be valid JSON text")
                    for name in self.json_fields if isinstance(data.get(name), NotJson)] if self.json_fields else []
        clean, errors = clean_record(self.entry, data, partial=False, relations=False)
        if errors:
            problems += [RowProblem(line, e["field"], e["message"]) for e in errors]
        try:
            created = _timestamp(created_at, "created_at") or self.now_text
            updated = _timestamp(updated_at, "updated_at") or created
        except _BadTimestamp as exc:
            problems.append(RowProblem(line, exc.field, exc.message))
        if problems:
            if self.direct:
                raise _Refused
            for problem in problems:
                result.add(problem)
            return None
        if not isinstance(record_id, str) or not RECORD_ID.fullmatch(record_id):
            record_id = new_record_id()
        columns = clean.columns
        values = [columns.get(attname) if encode is None else encode(columns.get(attname))
                  for attname, encode in self.encoders]
        if self.direct:
            return (record_id, created, updated, *values)
        return (line, record_id, created, updated, *values, *(clean.many.get(f) for f in self.many))


class _BadTimestamp(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message


def _timestamp(value, key: str):
    """The value to send for `created_at`/`updated_at`, checked by `parse_datetime` as ever.

    A plain UTC ISO text (`2024-01-01T00:00:07Z`, up to six digits of fraction, as exports
    write it) goes to COPY as the file's text, which PostgreSQL reads as the same instant:
    dumping a datetime object again cost more than checking the row. Anything else is sent
    as the parsed datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and PLAIN_UTC.fullmatch(value):
        try:  # parse_datetime's check for such a text: a UTC time cannot leave years 1-9999
            datetime.fromisoformat(value)
            return value
        except ValueError:
            pass  # e.g. February 30th: refused below with parse_datetime's message
    try:
        return parse_datetime(value)
    except InvalidValue as exc:
        raise _BadTimestamp(key, str(exc)) from None


def _check_and_write(staging: Staging, columns: set[str], upsert_on, result: ImportResult, dry_run: bool) -> bool:
    """Find the whole-file problems, then write unless there are any (or it is a dry run); True if written."""
    entry = staging.entry
    if upsert_on is not None:
        checks.match_existing(staging, upsert_on)
    for found, count in checks.problems(staging):
        result.problem_count += count
        result.problems += [problem.as_dict() for problem in found]
    result.problems.sort(key=lambda p: (p["line"], p["field"]))
    del result.problems[MAX_REPORTED:]
    result.created, result.updated = checks.planned(staging)
    if not result.ok or dry_run:
        return False
    present = [f for f in entry.fields if f.name in columns]
    try:
        with transaction.atomic():
            checks.write(staging, present, timezone.now())
    except IntegrityError as exc:  # a concurrent writer got in between the checks and the write
        result.add(RowProblem(0, "", f"The table changed while importing; nothing was written ({_reason(exc)})"))
        return False
    return True


def _reason(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "message_primary", None) or "a constraint failed"
