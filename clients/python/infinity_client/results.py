"""What calls return: `Record` (a dict with its `etag`) and `Page` (records and pagination)."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence, overload


class Record(dict):
    """One record (or webhook, or delivery) as the API returns it, plus the `etag` the server sent."""

    def __init__(self, data: Any = (), etag: Optional[str] = None):
        super().__init__(data)
        self.etag = etag

    @property
    def id(self) -> Any:
        return self.get("id")

    def __repr__(self) -> str:
        return f"Record({dict.__repr__(self)}, etag={self.etag!r})"


class Page(Sequence[Record]):
    """One page of a list: iterate it for its records; `pagination` is the server's object."""

    def __init__(self, data: list[Record], pagination: Optional[dict] = None):
        self.data = data
        self.pagination = pagination or {}

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index):
        return self.data[index]

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.data)

    @property
    def page(self) -> Optional[int]:
        return self.pagination.get("page")

    @property
    def limit(self) -> Optional[int]:
        return self.pagination.get("limit")

    @property
    def total(self) -> Optional[int]:
        """The number of matching records (not given on pages asked for by cursor)."""
        return self.pagination.get("total")

    @property
    def pages(self) -> Optional[int]:
        return self.pagination.get("pages")

    @property
    def next_cursor(self) -> Optional[str]:
        """Pass as `cursor=` for the following page; None on the last one."""
        return self.pagination.get("next_cursor")

    def __repr__(self) -> str:
        return f"Page({len(self.data)} records, pagination={self.pagination!r})"
