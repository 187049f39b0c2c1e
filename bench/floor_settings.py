"""Settings of the floor app (`bench.floor`): Infinity's, with no middleware."""

from infinity.settings import *  # noqa: F401,F403 - the same database and secret key

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor"
