"""Rate limits: the `N/unit[,N/unit...]` format (units s, m, h, d) of keys and settings.

`parse_rate_limit("100/m,5000/d")` gives `[(100, 60), (5000, 86400)]`, shortest window
first, or raises `ValueError` with a sentence a user can act on. Enforcement builds on
these windows.
"""

import re

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_NAMES = {seconds: unit for unit, seconds in UNIT_SECONDS.items()}
_WINDOW = re.compile(r"(?P<count>[1-9][0-9]{0,8})/(?P<unit>[smhd])")
FORMAT_HINT = "expected N/unit[,N/unit...] with N a positive integer and unit s, m, h or d, e.g. 100/m,5000/d"


def parse_rate_limit(text: str) -> list[tuple[int, int]]:
    """Parse a rate limit into (count, seconds) windows, shortest window first."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"Rate limit is empty: {FORMAT_HINT}")
    windows: dict[int, int] = {}
    for part in text.split(","):
        match = _WINDOW.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"Invalid rate limit {part.strip()!r}: {FORMAT_HINT}")
        seconds = UNIT_SECONDS[match["unit"]]
        if seconds in windows:
            raise ValueError(f"Rate limit {text.strip()!r} gives the /{match['unit']} window twice")
        windows[seconds] = int(match["count"])
    return [(count, seconds) for seconds, count in sorted(windows.items())]


def format_rate_limit(windows: list[tuple[int, int]]) -> str:
    """The canonical text of parsed windows: `[(100, 60)]` gives `100/m`."""
    return ",".join(f"{count}/{_UNIT_NAMES[seconds]}" for count, seconds in windows)
