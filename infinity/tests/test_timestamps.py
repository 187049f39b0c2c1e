"""Timestamps read from PostgreSQL: the fast loader gives exactly what Django's would."""

import datetime as dt

import pytest
from django.db import DataError, connection

from infinity.timestamps import UtcTimestamptzLoader

UTC = dt.timezone.utc


def read(literal: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT timestamptz '{literal}'")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_connections_use_the_fast_loader():
    connection.ensure_connection()
    assert connection.connection.adapters.get_loader(1184, 0) is UtcTimestamptzLoader


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2026-11-29 23:19:57.152593+00", dt.datetime(2026, 11, 29, 23, 19, 57, 152593, tzinfo=UTC)),
        ("2026-11-29 23:19:57+00", dt.datetime(2026, 11, 29, 23, 19, 57, tzinfo=UTC)),
        ("2024-06-01 12:00:00.5+02", dt.datetime(2024, 6, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("0001-01-01 00:00:00+00", dt.datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31 23:59:59.999999+00", dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_values_come_back_exact_and_in_utc(literal, expected):
    value = read(literal)

    assert value == expected
    assert value.tzinfo is UTC  # what format_datetime and Django expect


@pytest.mark.django_db
@pytest.mark.parametrize("literal", ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC"])
def test_what_python_cannot_hold_fails_as_with_django(literal):
    with pytest.raises(DataError):
        read(literal)
