"""Import files: CSV, JSON Lines and JSON read into `(line, record)` pairs of JSON values.

A reader yields each record as the dict a client would POST (plus `id`, `created_at`
and `updated_at` when the file has them), numbered by its line (its position for a
`.json` array), or a `RowProblem` for a row that cannot even be read. A file that
cannot be read as a whole (not UTF-8, a byte-order mark, an unknown or missing column,
not an array of objects, empty) raises `FileRefused` before anything is written.

CSV cells are text, so each is turned into the JSON value the field's type expects:
an empty cell is null, numbers and booleans are parsed, and lists, JSON and vectors
are JSON text, exactly as `exports` writes them.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import orjson

from ..dynamic import ModelEntry
from ..selectors import SYSTEM

FORMATS = ("csv", "jsonl", "json")
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
BOMS = ((codecs.BOM_UTF8, "UTF-8 with a byte-order mark"), (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
# Types whose CSV cells are JSON text; text-like types, dates and to-one relations are taken as written.
NEWLINE = b"\n"
JSON_CELLS = frozenset({"integer", "number", "multi_select", "json", "vector"})
csv.field_size_limit(1 << 30)  # a long_text or JSON cell may be large; rows are read one at a time


class FileRefused(Exception):
    """The file cannot be imported as a whole; the message says why and how to fix it."""


@dataclass
class RowProblem:
    """A row that cannot be imported: where, which field ("" for the whole row) and why."""

    line: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message}


def guess_format(name: str) -> str | None:
    return SUFFIXES.get(Path(name).suffix.lower())


def check_start(head: bytes) -> None:
    """Refuse byte-order marks and empty files from the first bytes."""
    for bom, what in BOMS:
        if head.startswith(bom):
            raise FileRefused(f"The file is {what}: save it as UTF-8 without a byte-order mark (BOM)")
    if not head.strip():
        raise FileRefused("The file is empty")


def _not_utf8(where: str) -> FileRefused:
    return FileRefused(f"The file is not UTF-8 ({where}): save it as UTF-8")


class Reader:
    """Iterates a file's records; `columns` are the fields it names (known after the first rows)."""

    def __init__(self, entry: ModelEntry, source: BinaryIO, fmt: str, mapping: dict | None = None):
        if fmt not in FORMATS:
            raise FileRefused(f'Unknown format "{fmt}": use one of {", ".join(FORMATS)}')
        self.entry, self.source, self.fmt = entry, source, fmt
        self.mapping = mapping or {}
        self.columns: set[str] = set()
        self.bytes_read = 0
        head = source.read(4096)
        check_start(head)
        self._head = head

    def _chunks(self) -> Iterator[bytes]:
        """The file's bytes, counted as they are read (for progress bars)."""
        chunk = self._head
        while chunk:
            self.bytes_read += len(chunk)
            yield chunk
            chunk = self.source.read(1 << 16)

    def _utf8_chunks(self) -> Iterator[bytes]:
        """`_chunks`, checked to be UTF-8 on the way, so a bad byte is refused with its line."""
        decoder, lines = codecs.getincrementaldecoder("utf-8")(), 0
        for chunk in self._chunks():
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines + chunk[:exc.start].count(NEWLINE) + 1
                raise _not_utf8(f"an invalid byte on line {line}") from None
            lines += chunk.count(NEWLINE)
            yield chunk
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _not_utf8(f"the last bytes, line {lines + 1}, end within a character") from None

    def __iter__(self) -> Iterator[tuple[int, dict] | RowProblem]:
        reader = {"csv": self._csv, "jsonl": self._jsonl, "json": self._json}[self.fmt]
        return reader()

    def _rename(self, data: dict) -> dict:
        if not self.mapping:
            return data
        renamed = {}
        for key, value in data.items():
            target = self.mapping.get(key, key)
            if target:
                renamed[target] = value
        return renamed

    # --- CSV ------------------------------------------------------------------------
    def _csv(self):
        text = io.TextIOWrapper(_ChunkStream(self._utf8_chunks()), encoding="utf-8", errors="strict", newline="")
        rows = csv.reader(text, strict=True)
        try:
            header = next(rows)
            names = self._csv_header(header)
            decoders = [self._cell_decoder(name) for name in names]
            previous = rows.line_num
            for cells in rows:
                line, previous = previous + 1, rows.line_num
                if not cells:
                    continue  # a blank line
                if len(cells) != len(names):
                    yield RowProblem(line, "", f"Has {len(cells)} values; the header has {len(names)} columns")
                    continue
                record = {}
                for name, decode, cell in zip(names, decoders, cells):
                    if name is not None:
                        record[name] = decode(cell)
                yield line, record
        except csv.Error as exc:
            raise FileRefused(f"Line {rows.line_num} is not valid CSV: {exc}") from None

    def _csv_header(self, header: list[str]) -> list[str | None]:
        names = [self.mapping.get(cell.strip(), cell.strip()) or None for cell in header]
        given = [n for n in names if n is not None]
        repeated = sorted({n for n in given if given.count(n) > 1})
        if repeated:
            raise FileRefused(f"The header names {', '.join(repeated)} more than once")
        unknown = [n for n in given if n not in SYSTEM and n not in self.entry.by_name]
        if unknown:
            known = ", ".join([*SYSTEM, *self.entry.by_name])
            raise FileRefused(f"The header names unknown field(s) of {self.entry.name}: {', '.join(unknown)} "
                              f"(its fields: {known})")
        missing = [f.name for f in self.entry.fields if f.required and f.default is None and f.name not in given]
        if missing:
            raise FileRefused(f"Missing required column(s): {', '.join(missing)}")
        self.columns = set(given)
        return names

    def _cell_decoder(self, name: str | None):
        field = self.entry.by_name.get(name) if name else None
        kind = field.type if field is not None else None
        if kind == "relation" and field.many:
            kind = "json"
        if kind == "boolean":
            return _boolean_cell
        if kind in JSON_CELLS:
            return _json_cell
        return _text_cell

    # --- JSON Lines and JSON ---------------------------------------------------------
    def _jsonl(self):
        pending, line = b"", 0
        for chunk in self._chunks():
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line += 1
                item = self._json_line(line, raw)
                if item is not None:
                    yield item
        if pending.strip():
            item = self._json_line(line + 1, pending)
            if item is not None:
                yield item

    def _json_line(self, line: int, raw: bytes):
        if not raw.strip():
            return None
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _not_utf8(f"an invalid byte on line {line}") from None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return RowProblem(line, "", f"Not valid JSON: {exc}")
        if not isinstance(data, dict):
            return RowProblem(line, "", "Must be a JSON object")
        return self._keep(line, data)

    def _json(self):
        raw = b"".join(self._chunks())
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(f"an invalid byte at offset {exc.start}") from None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise FileRefused(f"The file is not valid JSON: {exc}") from None
        if not isinstance(data, list):
            raise FileRefused("A JSON file must hold an array of objects (use .jsonl for one object per line)")
        for position, item in enumerate(data, 1):
            if not isinstance(item, dict):
                raise FileRefused(f"A JSON file must hold an array of objects: item {position} is not an object")
        for position, item in enumerate(data, 1):
            yield self._keep(position, item)

    def _keep(self, line: int, data: dict):
        data = self._rename(data)
        self.columns.update(data)
        return line, data


class _ChunkStream(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (so the CSV decoder counts bytes as it reads)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self._rest = chunks, b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size], self._rest = self._rest[:size], self._rest[size:]
        return size


def _text_cell(cell: str):
    return cell if cell != "" else None


def _boolean_cell(cell: str):
    lowered = cell.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return cell if cell != "" else None


def _json_cell(cell: str):
    """JSON text → its value; text that is not JSON goes on as a string, which the field's
    validation then refuses with the API's own message."""
    if cell == "":
        return None
    try:
        return orjson.loads(cell)
    except orjson.JSONDecodeError:
        return NotJson(cell)


class NotJson(str):
    """A CSV cell of a JSON-valued field that is not JSON text (refused, even by `json` fields)."""


def preview(source: BinaryIO, fmt: str, rows: int = 10) -> tuple[list[str], list[list[str]]]:
    """The file's columns (CSV header, or JSON keys in order of appearance) and its first
    `rows` records as display text, for choosing a column-to-field mapping before importing."""
    head = source.read(4096)
    check_start(head)
    data = head + source.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(f"an invalid byte on line {data[:exc.start].count(NEWLINE) + 1}") from None
    if fmt == "csv":
        try:
            table = [row for _, row in zip(range(rows + 1), csv.reader(io.StringIO(text, newline=""))) if row]
        except csv.Error as exc:
            raise FileRefused(f"The file is not valid CSV: {exc}") from None
        return (table[0], table[1:]) if table else ([], [])
    if fmt == "jsonl":
        try:
            items = [orjson.loads(line) for line in text.splitlines()[: rows * 2] if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise FileRefused(f"The file is not valid JSON Lines: {exc}") from None
    else:
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise FileRefused(f"The file is not valid JSON: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise FileRefused("The file must hold JSON objects (an array of them, or one per line)")
    items = items[:rows]
    columns = list(dict.fromkeys(key for item in items for key in item))
    return columns, [[_display(item.get(column)) for column in columns] for item in items]


def _display(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()
