"""The records browser's Export button and Import page (mounted by `admin_records.RecordsBrowser`).

Export streams what the browser shows (its search and filters, newest first) as CSV or
JSON Lines. Import takes an upload up to the upload limit, keeps it in `var/imports/`,
shows its first rows with a column-to-field mapping, then imports through
`datamodels.transfer.imports` (checked as the API checks, all or nothing; a dry run
checks only), listing the problems if there are any. Access is the browser's: admin
login and `datamodels.change_datamodel`.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from infinity.exceptions import InfinityError

from .admin_records import PERMISSION, TOOLS, url
from .dynamic import current_schema
from .models import DataModel
from .selectors import SYSTEM
from .transfer.exports import CONTENT_TYPES, filename, plan_for, stream
from .transfer.formats import FORMATS, FileRefused, guess_format, preview
from .transfer.imports import records_import

TEMPLATE = "admin/datamodels/records/import.html"
SESSION_KEY = "datamodels_import"
KEEP_UPLOADS = 24 * 3600  # seconds an upload waits for its import before it is swept away


def upload_limit() -> int:
    """INFINITY_IMPORT_MAX_BYTES, at most the body limit (INFINITY_MAX_BODY_BYTES) every request has."""
    body = settings.INFINITY["MAX_BODY_BYTES"]
    return min(settings.INFINITY["IMPORT_MAX_BYTES"] or body, body)


def upload_dir() -> Path:
    return Path(settings.VAR_DIR) / "imports"


def transfer_tools(request, entry) -> list[tuple[str, str]]:
    """The change list's Export CSV (of what it shows: same query string) and Import buttons."""
    query = request.GET.urlencode()
    return [("Export CSV", url("records_export", entry) + (f"?{query}" if query else "")),
            ("Import", url("records_import", entry))]


TOOLS.append(transfer_tools)


def transfer_urls(browser) -> list:
    """The export and import routes; they go before the browser's `<record_id>/` route."""
    views = TransferViews(browser)
    wrap = browser.admin_site.admin_view
    return [
        path("<int:model_id>/records/export/", wrap(views.export_view), name="datamodels_datamodel_records_export"),
        path("<int:model_id>/records/import/", wrap(views.import_view), name="datamodels_datamodel_records_import"),
    ]


class TransferViews:
    """The export download and the import page of one records browser."""

    def __init__(self, browser):
        self.browser = browser
        self.admin_site = browser.admin_site

    def _entry(self, request, model_id: int):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        entry = current_schema().by_id.get(model_id)
        if entry is None:
            raise Http404("No such data model")
        return entry

    def export_view(self, request, model_id: int):
        """The browser's records (its search, filters and all), newest first, as a download."""
        record_admin = self.browser.record_admin(request, model_id)
        request.GET = request.GET.copy()  # the change list must not see our own parameter
        fmt = request.GET.pop("_format", ["csv"])[-1]
        if fmt not in CONTENT_TYPES:
            raise Http404("Unknown export format")
        changelist = record_admin.get_changelist_instance(request)
        filtered = bool(changelist.query) or changelist.has_active_filters
        records = changelist.get_queryset(request).order_by() if filtered else None
        entry = record_admin.entry
        plan = plan_for(entry, fmt, sort=[("created_at", True)], queryset=records)
        response = StreamingHttpResponse(stream(plan), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{filename(entry, fmt, timezone.now())}"'
        return response

    def import_view(self, request, model_id: int):
        entry = self._entry(request, model_id)
        context = {"limit": upload_limit(), "formats": FORMATS, "unique": ["id", *(f.name for f in entry.fields
                                                                                     if f.unique)]}
        if request.method == "POST" and "_upload" in request.POST:
            return self._upload(request, entry, context)
        if request.method == "POST" and "_import" in request.POST:
            return self._import(request, entry, context)
        if request.method == "POST":  # a body refused before it was read (too large)
            return self._render(request, entry, context)
        request.session.pop(SESSION_KEY, None)
        return self._render(request, entry, context)

    def _upload(self, request, entry, context):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > context["limit"]:
            context["error"] = _too_large(int(length), context["limit"])
            return self._render(request, entry, context)
        upload = request.FILES.get("file")
        if upload is None:
            context["error"] = "Choose a file to import."
            return self._render(request, entry, context)
        if upload.size > context["limit"]:
            context["error"] = _too_large(upload.size, context["limit"])
            return self._render(request, entry, context)
        fmt = request.POST.get("format") or guess_format(upload.name)
        if fmt not in FORMATS:
            context["error"] = f"Cannot tell the format of {upload.name}: choose CSV, JSON Lines or JSON."
            return self._render(request, entry, context)
        stored = _store(upload)
        request.session[SESSION_KEY] = {"model": entry.definition.pk, "file": stored.name, "name": upload.name,
                                        "format": fmt}
        return self._with_preview(request, entry, context)

    def _with_preview(self, request, entry, context):
        upload = _session_upload(request, entry)
        if upload is None:
            context["error"] = "The upload has expired: choose the file again."
            return self._render(request, entry, context)
        try:
            with open(upload_dir() / upload["file"], "rb") as source:
                columns, rows = preview(source, upload["format"])
        except FileRefused as exc:
            context["error"] = str(exc)
            return self._render(request, entry, context)
        targets = [*SYSTEM, *(f.name for f in entry.fields)]
        mapping = [(index, column, request.POST.get(f"map-{index}", column if column in targets else ""))
                   for index, column in enumerate(columns)]
        context.update(upload=upload, columns=columns, rows=rows, mapping=mapping, targets=targets)
        return self._render(request, entry, context)

    def _import(self, request, entry, context):
        upload = _session_upload(request, entry)
        if upload is None:
            context["error"] = "The upload has expired: choose the file again."
            return self._render(request, entry, context)
        columns = request.POST.getlist("column")
        mapping = {column: request.POST.get(f"map-{index}", "") for index, column in enumerate(columns)}
        dry_run, upsert_on = "dry_run" in request.POST, request.POST.get("upsert_on") or None
        try:
            with open(upload_dir() / upload["file"], "rb") as source:
                result = records_import(model=entry.name, source=source, fmt=upload["format"], upsert_on=upsert_on,
                                        dry_run=dry_run, mapping=mapping)
        except (FileRefused, InfinityError) as exc:
            context["error"] = getattr(exc, "message", None) or str(exc)
            return self._with_preview(request, entry, context)
        if result.ok and not dry_run:
            _forget(request)
            messages.success(request, f"Imported {result.records} record(s) from {upload['name']}: "
                                      f"{result.created} created, {result.updated} updated.")
            return HttpResponseRedirect(reverse("admin:datamodels_datamodel_records", args=[entry.definition.pk]))
        context["result"] = result
        return self._with_preview(request, entry, context)

    def _render(self, request, entry, context):
        context = {
            **self.admin_site.each_context(request), "opts": DataModel._meta, "datamodel_opts": DataModel._meta, "data_model": entry.definition,
            "list_url": reverse("admin:datamodels_datamodel_records", args=[entry.definition.pk]),
            "title": f"Import records into {entry.name}", **context,
        }
        return TemplateResponse(request, TEMPLATE, context)


def _too_large(size: int, limit: int) -> str:
    return (f"The file is {_mb(size)}, larger than the upload limit of {_mb(limit)} (INFINITY_IMPORT_MAX_BYTES); "
            "import it with manage.py records import instead.")


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size:,} bytes"


def _store(upload) -> Path:
    """Keep the upload until it is imported; uploads older than a day are swept now."""
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.upload"):
        if old.stat().st_mtime < time.time() - KEEP_UPLOADS:
            old.unlink(missing_ok=True)
    stored = folder / f"{secrets.token_hex(16)}.upload"
    with open(stored, "wb") as file:
        for chunk in upload.chunks():
            file.write(chunk)
    return stored


def _session_upload(request, entry) -> dict | None:
    upload = request.session.get(SESSION_KEY)
    if not upload or upload.get("model") != entry.definition.pk or not (upload_dir() / upload["file"]).exists():
        return None
    return upload


def _forget(request) -> None:
    upload = request.session.pop(SESSION_KEY, None)
    if upload:
        (upload_dir() / upload["file"]).unlink(missing_ok=True)
