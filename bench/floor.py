"""The floor `make bench` sets R4 against: a bare Django view doing one raw query.

No middleware, authentication, rate limit or DRF: what any Django app pays on this
machine, server and database to answer one request with one round trip. Served the
same way as Infinity (`BENCH_SERVER`), it turns the R4 target into a share of what
the machine allows, which stays comparable across machines.
"""

import os
import re
from decimal import Decimal

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor_settings"

import orjson  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse, HttpResponseNotFound  # noqa: E402
from django.urls import path  # noqa: E402

_TABLE = re.compile(r"dm_[0-9]+")


def record(request, table: str, record_id: str) -> HttpResponse:
    if not _TABLE.fullmatch(table):
        return HttpResponseNotFound()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{table}" WHERE id = %s', [record_id])
        names = [column.name for column in cursor.description]
        row = cursor.fetchone()
    body = orjson.dumps({"data": dict(zip(names, row))}, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))
    response = HttpResponse(body, content_type="application/json")
    response["Content-Length"] = str(len(body))
    return response


urlpatterns = [path("floor/<str:table>/<str:record_id>", record)]
application = get_wsgi_application()
