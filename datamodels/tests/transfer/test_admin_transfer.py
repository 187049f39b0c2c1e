"""The records browser's Export button and Import page, end to end with Django's test client."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datamodels import records, services

from .conftest import entry, table_rows

PASSWORD = "s3cret-pass-123"


@pytest.fixture
def admin_client(client, superuser, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # uploads kept between the preview and the import land here
    client.login(username="root", password=PASSWORD)
    return client


@pytest.fixture
def people(db):
    model = services.data_model_create(name="people", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email", "unique": True},
        {"name": "status", "type": "select", "choices": ["active", "inactive"], "default": "active"},
    ])
    for name, email, status in [("Ann", "ann@example.com", "active"), ("Bob", "bob@example.com", "inactive")]:
        records.record_create(entry=entry("people"), data={"name": name, "email": email, "status": status})
    return model


def base(model) -> str:
    return f"/admin/datamodels/datamodel/{model.pk}/records/"


def upload(admin_client, model, name: str, content: bytes | str, **extra):
    data = content.encode() if isinstance(content, str) else content
    return admin_client.post(base(model) + "import/", {"file": SimpleUploadedFile(name, data), "_upload": "1",
                                                       **extra})


# --- export ----------------------------------------------------------------------------------

def test_the_browser_links_to_export_and_import(admin_client, people):
    page = admin_client.get(base(people), {"q": "ann"}).content.decode()

    assert f'href="{base(people)}export/?q=ann"' in page
    assert f'href="{base(people)}import/"' in page


def test_export_downloads_what_the_browser_shows(admin_client, people):
    everything = admin_client.get(base(people) + "export/")
    searched = admin_client.get(base(people) + "export/", {"q": "bob"})
    filtered = admin_client.get(base(people) + "export/", {"status__exact": "active", "_format": "jsonl"})

    rows = list(csv.DictReader(io.StringIO(b"".join(everything.streaming_content).decode())))
    assert everything["Content-Disposition"].startswith('attachment; filename="people-')
    assert [r["name"] for r in rows] == ["Bob", "Ann"]  # newest first, as the browser lists them
    assert [r["name"] for r in csv.DictReader(io.StringIO(b"".join(searched.streaming_content).decode()))] == ["Bob"]
    assert b"".join(filtered.streaming_content).count(b"\n") == 1


def test_export_and_import_need_the_browsers_permission(client, people, django_user_model):
    django_user_model.objects.create_user("staff", "s@example.com", PASSWORD, is_staff=True)
    client.login(username="staff", password=PASSWORD)

    assert client.get(base(people) + "export/").status_code == 403
    assert client.get(base(people) + "import/").status_code == 403


# --- import ----------------------------------------------------------------------------------

def test_upload_preview_map_and_import(admin_client, people):
    content = "full_name,email,junk\nCy,cy@example.com,x\nDee,dee@example.com,y\n"

    form = admin_client.get(base(people) + "import/")
    preview = upload(admin_client, people, "new.csv", content)
    done = admin_client.post(base(people) + "import/", {
        "_import": "1", "column": ["full_name", "email", "junk"], "map-0": "name", "map-1": "email", "map-2": ""})

    assert form.status_code == 200 and "Upload and preview" in form.content.decode()
    page = preview.content.decode()
    assert "new.csv (csv): the first 2 records" in page
    assert '<option value="email" selected>' in page and "<td>Dee</td>" in page
    assert done.status_code == 302 and done["Location"] == base(people)
    assert "Imported 2 record(s) from new.csv: 2 created, 0 updated." in admin_client.get(base(people)).content.decode()
    names = sorted(r[4] for r in table_rows(people))
    assert names == ["Ann", "Bob", "Cy", "Dee"]


def test_bad_rows_are_listed_and_nothing_is_written(admin_client, people):
    before = table_rows(people)
    upload(admin_client, people, "bad.jsonl", '{"name": "Cy", "email": "ann@example.com"}\n{"email": "nope"}\n')

    page = admin_client.post(base(people) + "import/", {
        "_import": "1", "column": ["name", "email"], "map-0": "name", "map-1": "email"}).content.decode()

    assert "3 problems in bad.jsonl; nothing was imported." in page
    assert "<td>1</td><td>email</td><td>Must be unique: this value is already used</td>" in page
    assert "<td>2</td><td>email</td><td>Must be a valid email address</td>" in page
    assert "<td>2</td><td>name</td><td>This field is required</td>" in page
    assert table_rows(people) == before


def test_a_dry_run_and_an_upsert(admin_client, people):
    before = table_rows(people)
    upload(admin_client, people, "up.csv", "name,email\nAnnie,ann@example.com\nEve,eve@example.com\n")
    fields = {"_import": "1", "column": ["name", "email"], "map-0": "name", "map-1": "email", "upsert_on": "email"}

    dry = admin_client.post(base(people) + "import/", {**fields, "dry_run": "on"}).content.decode()
    unchanged = table_rows(people)
    real = admin_client.post(base(people) + "import/", fields)

    assert "Dry run: all 2 records are valid (1 would be created, 1 updated); nothing was written." in dry
    assert unchanged == before
    assert real.status_code == 302
    assert sorted(r[4] for r in table_rows(people)) == ["Annie", "Bob", "Eve"]


@pytest.mark.parametrize("name, content, message", [
    ("a.csv", b"\xef\xbb\xbfname\nX\n", "The file is UTF-8 with a byte-order mark"),
    ("a.csv", "name\nRen\xe9\n".encode("latin-1"), "The file is not UTF-8 (an invalid byte on line 2)"),
    ("a.json", b'{"name": "X"}', "The file must hold JSON objects"),
    ("a.csv", b"", "The file is empty"),
    ("a.txt", b"name\nX\n", "Cannot tell the format of a.txt"),
])
def test_unreadable_files_are_refused_on_upload(admin_client, people, name, content, message):
    before = table_rows(people)

    page = upload(admin_client, people, name, content).content.decode()

    assert message in page and table_rows(people) == before


def test_a_file_above_the_upload_limit_is_refused_and_the_limit_named(admin_client, people, settings):
    settings.INFINITY = {**settings.INFINITY, "IMPORT_MAX_BYTES": 200}
    before = table_rows(people)

    page = upload(admin_client, people, "big.csv", "name\n" + "x" * 300 + "\n").content.decode()

    assert "larger than the upload limit of 200 bytes (INFINITY_IMPORT_MAX_BYTES)" in page
    assert table_rows(people) == before
    assert not list((settings.VAR_DIR / "imports").glob("*")) if (settings.VAR_DIR / "imports").exists() else True


def test_an_import_without_an_upload_asks_for_the_file_again(admin_client, people):
    page = admin_client.post(base(people) + "import/", {"_import": "1", "column": ["name"], "map-0": "name"})

    assert "The upload has expired: choose the file again." in page.content.decode()
