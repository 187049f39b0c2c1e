"""The rate-limit format `N/unit[,N/unit...]` shared by keys and settings."""

import pytest

from accounts.ratelimits import format_rate_limit, parse_rate_limit


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("100/m", [(100, 60)]),
        ("100/m,5000/d", [(100, 60), (5000, 86400)]),
        (" 5000/d , 10/s ,1/h", [(10, 1), (1, 3600), (5000, 86400)]),
        ("999999999/s", [(999999999, 1)]),
        ("9223372036854775807/s,10000000000/d", [(9223372036854775807, 1), (10000000000, 86400)]),
    ],
)
def test_valid_limits_parse_shortest_window_first(text, windows):
    assert parse_rate_limit(text) == windows


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Rate limit is empty"),
        ("   ", "Rate limit is empty"),
        ("100", "Invalid rate limit '100'"),
        ("100/w", "Invalid rate limit '100/w'"),
        ("0/m", "Invalid rate limit '0/m'"),
        ("-1/m", "Invalid rate limit '-1/m'"),
        ("007/m", "Invalid rate limit '007/m'"),
        ("1.5/m", "Invalid rate limit '1.5/m'"),
        ("100/min", "Invalid rate limit '100/min'"),
        ("100/m,", "Invalid rate limit ''"),
        ("9223372036854775808/s", "Invalid rate limit '9223372036854775808/s'.*from 1 to 9223372036854775807"),
        ("10000000000000000000/s", "Invalid rate limit '10000000000000000000/s'.*from 1 to 9223372036854775807"),
        ("10/m,20/m", "gives the /m window twice"),
    ],
)
def test_invalid_limits_raise_a_readable_value_error(text, message):
    with pytest.raises(ValueError, match=message):
        parse_rate_limit(text)


def test_format_is_the_canonical_inverse_of_parse():
    assert format_rate_limit(parse_rate_limit(" 5000/d, 100/m ")) == "100/m,5000/d"
