"""The admin's records browser through Django's test client: list, filters, search, bulk delete, forms.

Every scenario runs as a logged-in superuser (or a user without the permission)
against the real PostgreSQL tables, and checks both the page and what is stored.
The same flows in a real Chromium are in `browser/test_records_in_browser.py`.
"""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from datamodels import services
from datamodels.admin_records_form import RecordForm, record_values
from datamodels.dynamic import current_schema
from datamodels.records import record_create

from .admin_fixtures import PASSWORD, admin_client, fresh_schema_cache  # noqa: F401 (fixtures)

LONG_TEXT = "word " * 400  # 2,000 characters


@pytest.fixture
def customers(db):
    companies = services.data_model_create(name="companies", fields=[{"name": "name", "type": "text"}])
    return services.data_model_create(name="customers", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email", "unique": True},
        {"name": "status", "type": "select", "choices": ["active", "inactive"], "default": "active"},
        {"name": "vip", "type": "boolean"},
        {"name": "visits", "type": "integer"},
        {"name": "company", "type": "relation", "related_model": companies},
        {"name": "suppliers", "type": "relation", "related_model": companies, "many": True},
        {"name": "tags", "type": "multi_select", "choices": ["new", "loyal"]},
        {"name": "joined", "type": "date"},
        {"name": "seen_at", "type": "datetime"},
        {"name": "notes", "type": "long_text"},
        {"name": "extra", "type": "json"},
        {"name": "embedding", "type": "vector", "dimensions": 2},
    ])


def records_url(data_model, *rest):
    return "/".join([f"/admin/datamodels/datamodel/{data_model.pk}/records", *rest, ""])


def create_record(model_name, /, **data):
    return record_create(entry=current_schema().get(model_name), data=data)


def records_of(data_model):
    return current_schema().by_id[data_model.pk].model.objects


def api_values(data_model, record):
    return record_values(current_schema().by_id[data_model.pk], record)


def shown_names(response) -> list[str]:
    """The `name` cells of a records list, top to bottom."""
    return re.findall(r'<td class="field-cell_name">([^<]*)</td>', response.content.decode())


def record_post(**values):
    """The record form's POST with every field left empty, then `values`."""
    data = {"name": "", "email": "", "status": "", "vip": "unknown", "visits": "", "company": "", "joined": "",
            "seen_at": "", "notes": "", "extra": "", "embedding": ""}
    return {**data, **values}


# --- the list -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_every_field_with_long_values_short(admin_client, customers):
    acme = create_record("companies", name="Acme")
    record = create_record("customers", name="Ada", notes=LONG_TEXT, extra={"key": "v" * 300}, company=acme.pk,
                           suppliers=[acme.pk], embedding=[0.5, -1], tags=["new", "loyal"], vip=True)

    page = admin_client.get(records_url(customers)).content.decode()
    change = admin_client.get(records_url(customers, record.pk)).content.decode()

    assert "Records of customers" in page and "1 record" in page
    assert '<td class="field-cell_notes">word word' in page and LONG_TEXT.strip() not in page
    assert "v" * 300 not in page and '{&quot;key&quot;: &quot;vvv' in page
    assert "[0.5, -1] (2 numbers)" in page
    assert "new, loyal" in page and 'alt="True"' in page
    companies = current_schema().get("companies").definition
    assert f'href="{records_url(companies, acme.pk)}" title="{acme.pk}">Acme</a>' in page
    assert LONG_TEXT.strip() in change and "v" * 300 in change and "[0.5, -1.0]" in change


@pytest.mark.django_db
def test_list_reads_a_page_in_a_fixed_number_of_queries(admin_client, customers):
    acme = create_record("companies", name="Acme")
    create_record("customers", name="first", company=acme.pk, suppliers=[acme.pk])
    admin_client.get(records_url(customers))  # classes built, session loaded
    with CaptureQueriesContext(connection) as few:
        admin_client.get(records_url(customers))
    for number in range(20):
        create_record("customers", name=f"c{number}", company=acme.pk, suppliers=[acme.pk], embedding=[1, 2])
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(records_url(customers))

    assert len(shown_names(response)) == 21
    assert len(many) == len(few)
    assert not any("count(*)" in q["sql"].lower() for q in many)  # totals come from the trigger-kept count


@pytest.mark.django_db
def test_field_names_never_clash_with_the_admin(admin_client):
    data_model = services.data_model_create(name="odd", fields=[
        {"name": "facets", "type": "text"}, {"name": "full_result_count", "type": "integer"},
        {"name": "actions", "type": "text"}, {"name": "media", "type": "text"}, {"name": "q", "type": "boolean"},
    ])
    create_record("odd", facets="f", full_result_count=3, actions="a", media="m", q=True)
    create_record("odd", facets="g", full_result_count=3, actions="b", media="n", q=False)

    response = admin_client.get(records_url(data_model), {"q__exact": "true", "full_result_count__gte": "3"})

    page = response.content.decode()
    assert response.status_code == 200
    assert '<td class="field-cell_media">m</td>' in page and '<td class="field-cell_media">n</td>' not in page
    assert '1 result (<a href="?">2 total</a>)' in page


@pytest.mark.django_db
def test_a_model_relating_to_itself_lists_sorts_and_filters(admin_client):
    people = services.data_model_create(name="people", fields=[{"name": "name", "type": "text"},
                                                               {"name": "bio", "type": "long_text"}])
    services.field_create(data_model=people, name="manager", type="relation", related_model=people)
    services.field_create(data_model=people, name="friends", type="relation", related_model=people, many=True)
    boss = create_record("people", name="zed", bio="boss " * 50)
    create_record("people", name="amy", bio="short", manager=boss.pk, friends=[boss.pk])
    create_record("people", name="bob", manager=boss.pk)
    page = admin_client.get(records_url(people)).content.decode()
    by_manager = re.search(r'class="sortable column-cell_manager">.*?<a href="\?o=(\d+)"', page, re.S).group(1)

    sorted_page = admin_client.get(records_url(people), {"o": f"{by_manager}.-2"})
    managed = admin_client.get(records_url(people), {"manager__exact": boss.pk})
    friends = admin_client.get(records_url(people), {"friends__exact": boss.pk})

    assert "boss boss" in page and ("boss " * 50).strip() not in page
    assert shown_names(sorted_page)[:2] == ["bob", "amy"]  # by the manager's name, then newest first
    assert shown_names(managed) == ["bob", "amy"]
    assert shown_names(friends) == ["amy"]


@pytest.mark.django_db
def test_a_model_without_fields_lists_and_adds_records(admin_client):
    data_model = services.data_model_create(name="blanks", fields=[])
    record = create_record("blanks")

    found = admin_client.get(records_url(data_model), {"q": record.pk})
    added = admin_client.post(records_url(data_model, "add"), {})

    assert found.status_code == 200 and f">{record.pk}</a>" in found.content.decode()
    assert added.status_code == 302 and records_of(data_model).count() == 2


@pytest.mark.django_db
def test_other_modules_add_buttons_to_the_object_tools(admin_client, customers, monkeypatch):
    from datamodels import admin_records

    monkeypatch.setattr(admin_records, "TOOLS", [lambda request, entry: [(f"Export {entry.name}", "/export/")]])

    page = admin_client.get(records_url(customers)).content.decode()

    assert f'<a href="{records_url(customers, "add")}" class="addlink">Add record</a>' in page
    assert '<li><a href="/export/">Export customers</a></li>' in page


@pytest.mark.django_db
def test_the_record_page_reads_in_a_fixed_number_of_queries(admin_client, customers):
    companies = [create_record("companies", name=f"co{n}") for n in range(12)]
    few = create_record("customers", name="few", company=companies[0].pk, suppliers=[companies[0].pk])
    many = create_record("customers", name="many", company=companies[0].pk, suppliers=[c.pk for c in companies])
    admin_client.get(records_url(customers, few.pk))
    with CaptureQueriesContext(connection) as one:
        admin_client.get(records_url(customers, few.pk))
    with CaptureQueriesContext(connection) as twelve:
        page = admin_client.get(records_url(customers, many.pk)).content.decode()

    assert page.count(" selected>") == 12 + 3  # 12 suppliers; company, status and vip
    assert len(twelve) == len(one)


@pytest.mark.django_db
def test_pages_of_fifty_newest_first_with_the_total(admin_client, customers):
    for number in range(55):
        create_record("customers", name=f"customer {number:02d}")

    first = admin_client.get(records_url(customers))
    second = admin_client.get(records_url(customers), {"p": 2})

    assert shown_names(first)[:2] == ["customer 54", "customer 53"] and len(shown_names(first)) == 50
    assert shown_names(second) == [f"customer {n:02d}" for n in range(4, -1, -1)]
    assert "55 records" in first.content.decode()


@pytest.mark.django_db
def test_sorting_by_a_column_both_ways(admin_client, customers):
    for name, visits in (("b", 2), ("c", 3), ("a", 1)):
        create_record("customers", name=name, visits=visits)
    page = admin_client.get(records_url(customers)).content.decode()
    # Django's change list numbers its columns: the header links carry `o=<n>` / `o=-<n>`.
    ascending = re.search(r'class="sortable column-cell_visits">.*?<a href="\?o=(\d+)"', page, re.S).group(1)

    up = admin_client.get(records_url(customers), {"o": ascending})
    down = admin_client.get(records_url(customers), {"o": f"-{ascending}"})

    assert shown_names(up) == ["a", "b", "c"]
    assert shown_names(down) == ["c", "b", "a"]


@pytest.mark.django_db
def test_search_matches_text_words_and_ids(admin_client, customers):
    ada = create_record("customers", name="Ada Lovelace", email="ada@example.com")
    create_record("customers", name="Grace Hopper")

    first = admin_client.get(records_url(customers), {"q": "LOVELACE"})
    assert shown_names(first) == ["Ada Lovelace"]
    assert "Every word in name, email, status, notes, or a record id" in first.content.decode()
    assert shown_names(admin_client.get(records_url(customers), {"q": "example.com"})) == ["Ada Lovelace"]
    assert shown_names(admin_client.get(records_url(customers), {"q": ada.pk})) == ["Ada Lovelace"]
    nothing = admin_client.get(records_url(customers), {"q": "Ada zz"})  # every word must match
    assert nothing.status_code == 200 and shown_names(nothing) == []
    assert "0 records" in nothing.content.decode() and "2 total" in nothing.content.decode()
    nul = admin_client.get(records_url(customers), {"q": "a\x00b"})
    assert "Null characters are not allowed." in nul.content.decode() and len(shown_names(nul)) == 2


@pytest.fixture
def filterable(customers):
    acme, globex = create_record("companies", name="Acme"), create_record("companies", name="Globex")
    create_record("customers", name="ann", status="active", vip=True, visits=1, joined="2024-01-10",
                  seen_at="2024-01-10T08:00:00Z", tags=["new"], company=acme.pk, suppliers=[globex.pk])
    create_record("customers", name="bob", status="inactive", vip=False, visits=5, joined="2024-03-01",
                  seen_at="2024-03-01T12:00:00Z", tags=["loyal"], company=globex.pk, suppliers=[acme.pk, globex.pk])
    create_record("customers", name="cid", visits=9, joined="2024-06-30", seen_at="2024-06-30T23:59:59Z")
    return customers, acme, globex


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "names"), [
    ({"status__exact": "inactive"}, ["bob"]),
    ({"vip__exact": "true"}, ["ann"]),
    ({"vip__exact": "false"}, ["bob"]),
    ({"vip__exact": "null"}, ["cid"]),
    ({"tags__exact": "loyal"}, ["bob"]),
    ({"visits__gte": "2"}, ["cid", "bob"]),
    ({"visits__gte": "1", "visits__lte": "5"}, ["bob", "ann"]),
    ({"joined__gte": "2024-02-01", "joined__lte": "2024-06-30"}, ["cid", "bob"]),
    ({"seen_at__lte": "2024-03-01T12:00"}, ["bob", "ann"]),
    ({"seen_at__gte": "2024-03-01T12:00:01"}, ["cid"]),
    ({"status__exact": "active", "visits__gte": "5"}, ["cid"]),
])
def test_filters_by_field_type(admin_client, filterable, params, names):
    customers, *_ = filterable

    response = admin_client.get(records_url(customers), params)

    assert response.status_code == 200
    assert shown_names(response) == names
    assert f"{len(names)} record" in response.content.decode() and "3 total" in response.content.decode()


@pytest.mark.django_db
def test_relation_filters_by_the_target_record(admin_client, filterable):
    customers, acme, globex = filterable

    to_one = admin_client.get(records_url(customers), {"company__exact": acme.pk})
    to_many = admin_client.get(records_url(customers), {"suppliers__exact": globex.pk})

    assert shown_names(to_one) == ["ann"]
    assert f'<option value="{acme.pk}" selected>{acme.pk} — Acme</option>' in to_one.content.decode()
    assert shown_names(to_many) == ["bob", "ann"]


@pytest.mark.django_db
def test_a_bad_range_bound_shows_the_api_message_and_filters_nothing(admin_client, filterable):
    customers, *_ = filterable

    response = admin_client.get(records_url(customers), {"visits__gte": "lots", "joined__lte": "2024-13-01"})

    page = response.content.decode()
    assert response.status_code == 200 and shown_names(response) == ["cid", "bob", "ann"]
    assert "from: Must be an integer" in page and "to: Must be a date as YYYY-MM-DD" in page


@pytest.mark.django_db
def test_raw_column_lookups_are_refused(admin_client, filterable):
    customers, *_ = filterable
    column = current_schema().get("customers").by_name["name"].column

    assert admin_client.get(records_url(customers), {f"{column}__regex": "a"}).status_code == 400
    assert admin_client.get(records_url(customers), {"nosuchfield": "1"}).status_code == 400


@pytest.mark.django_db
def test_nul_characters_in_filters_match_nothing_and_break_nothing(admin_client, filterable):
    customers, *_ = filterable

    for params in ({"status__exact": "a\x00"}, {"company__exact": "rec_\x00"}, {"visits__gte": "1\x00"}):
        response = admin_client.get(records_url(customers), params)
        assert response.status_code == 200 and shown_names(response) == ["cid", "bob", "ann"], params


# --- bulk delete ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_delete_asks_with_the_count_then_deletes_through_the_services(admin_client, customers):
    acme = create_record("companies", name="Acme")
    doomed = [create_record("customers", name=f"gone {n}") for n in range(3)]
    kept = create_record("customers", name="kept", company=acme.pk)
    selected = {"action": "delete_selected", "_selected_action": [r.pk for r in doomed]}

    confirm = admin_client.post(records_url(customers), selected)
    assert records_of(customers).count() == 4
    done = admin_client.post(records_url(customers), {**selected, "post": "yes"})

    assert confirm.status_code == 200
    assert "Delete <strong>3 records</strong> of customers?" in confirm.content.decode()
    assert "<h1>Delete 3 records</h1>" in confirm.content.decode()
    assert done.status_code == 302
    assert list(records_of(customers).values_list("pk", flat=True)) == [kept.pk]
    assert "Successfully deleted 3 records." in admin_client.get(done.url).content.decode()
    log = LogEntry.objects.get()
    assert log.object_id == str(customers.pk) and log.change_message.startswith("Deleted records ")


@pytest.mark.django_db
def test_bulk_delete_across_every_page_of_a_filter(admin_client, customers):
    for number in range(60):
        create_record("customers", name=f"c{number}", status="inactive" if number % 2 else "active")

    confirm = admin_client.post(records_url(customers) + "?status__exact=inactive",
                                {"action": "delete_selected", "select_across": "1", "_selected_action": ["x"]})
    done = admin_client.post(records_url(customers) + "?status__exact=inactive",
                             {"action": "delete_selected", "select_across": "1", "_selected_action": ["x"],
                              "post": "yes"})

    assert "Delete <strong>30 records</strong>" in confirm.content.decode()
    assert done.status_code == 302
    assert records_of(customers).count() == 30
    column = current_schema().get("customers").by_name["status"].column
    assert set(records_of(customers).values_list(column, flat=True)) == {"active"}


@pytest.mark.django_db
def test_bulk_delete_of_an_impossible_id_is_refused(admin_client, customers):
    record = create_record("customers", name="Ada")

    response = admin_client.post(records_url(customers), {"action": "delete_selected", "post": "yes",
                                                          "_selected_action": [record.pk, "rec_\x00"]})

    assert response.status_code == 400
    assert records_of(customers).count() == 1


@pytest.mark.django_db
def test_delete_one_record(admin_client, customers):
    record = create_record("customers", name="Ada")

    confirm = admin_client.get(records_url(customers, record.pk, "delete"))
    response = admin_client.post(records_url(customers, record.pk, "delete"), {"post": "yes"})

    assert confirm.status_code == 200 and f"delete the record <strong>{record.pk}</strong>" in confirm.content.decode()
    assert response.status_code == 302 and response.url == records_url(customers)
    assert not records_of(customers).exists()


# --- relation pickers -------------------------------------------------------------------------


@pytest.mark.django_db
def test_autocomplete_searches_the_target_records(admin_client, customers):
    acme, _ = create_record("companies", name="Acme"), create_record("companies", name="Globex")
    column = current_schema().get("customers").by_name["company"].column
    url = reverse("admin:datamodels_datamodel_records_autocomplete", args=[customers.pk])

    found = admin_client.get(url, {"term": "acm", "field_name": column, "app_label": "dynamic", "model_name": "x"})
    unknown_field = admin_client.get(url, {"term": "acm", "field_name": "f_0"})
    nul = admin_client.get(url, {"term": "e\x00", "field_name": column})

    assert found.status_code == 200
    assert found.json() == {"results": [{"id": acme.pk, "text": f"{acme.pk} — Acme"}], "pagination": {"more": False}}
    assert unknown_field.status_code == 403
    assert nul.status_code == 200 and len(nul.json()["results"]) == 2  # NUL dropped: "e" matches both


@pytest.mark.django_db
def test_relation_fields_are_autocomplete_pickers(admin_client, customers):
    acme = create_record("companies", name="Acme")
    record = create_record("customers", name="Ada", company=acme.pk, suppliers=[acme.pk])

    page = admin_client.get(records_url(customers, record.pk)).content.decode()

    assert page.count('class="admin-autocomplete"') == 2
    assert f'data-ajax--url="{reverse("admin:datamodels_datamodel_records_autocomplete", args=[customers.pk])}"' in page
    assert page.count(f'<option value="{acme.pk}" selected>{acme.pk} — Acme</option>') == 2


# --- the record form --------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_record_through_the_form(admin_client, customers):
    acme, globex = create_record("companies", name="Acme"), create_record("companies", name="Globex")
    assert '<option value="active" selected>' in admin_client.get(records_url(customers, "add")).content.decode()

    data = record_post(name="Ada", email="ada@example.com", status="active", vip="true", visits="3",
                       company=acme.pk, suppliers=[acme.pk, globex.pk], tags=["loyal"], joined="2024-05-01",
                       seen_at="2024-05-01T10:30:00", extra='{"a": [1]}', embedding="[0.5, 0.5]")
    response = admin_client.post(records_url(customers, "add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    values = api_values(customers, records_of(customers).get())
    values["suppliers"].sort()
    assert values == {
        "name": "Ada", "email": "ada@example.com", "status": "active", "vip": True, "visits": 3,
        "company": acme.pk, "suppliers": sorted([acme.pk, globex.pk]), "tags": ["loyal"], "joined": "2024-05-01",
        "seen_at": "2024-05-01T10:30:00Z", "notes": None, "extra": {"a": [1]}, "embedding": [0.5, 0.5],
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("values", "field", "message"), [
    ({"name": "Ada", "email": "not-an-email"}, "email", "Must be a valid email address"),
    ({"email": "ada@example.com"}, "name", "This field is required"),
    ({"name": "Ada", "company": "rec_missing"}, "company", "No such record: rec_missing"),
    ({"name": "Ada", "embedding": "[1, 2, 3]"}, "embedding", "Must have exactly 2 numbers"),
    ({"name": "Ada", "visits": "many"}, "visits", "Must be an integer"),
    ({"name": "Ada", "visits": "2.5"}, "visits", "Must be an integer"),
    ({"name": "Ada", "joined": "2024-02-30"}, "joined", "Must be a date as YYYY-MM-DD"),
    ({"name": "Ada", "seen_at": "yesterday"}, "seen_at", "Must be an ISO 8601 date-time, e.g. 2024-01-01T00:00:00Z"),
    ({"name": "Ada", "status": "gone"}, "status", "Must be one of: active, inactive"),
    ({"name": "Ada", "tags": ["old"]}, "tags", "Must only contain: new, loyal"),
])
def test_bad_values_show_the_api_message_on_the_field_and_write_nothing(admin_client, customers, values, field,
                                                                         message):
    response = admin_client.post(records_url(customers, "add"), record_post(**values))

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(rf'field-{field}">\s*<ul class="errorlist"[^>]*><li>{re.escape(message)}</li>', page), page[-4000:]
    assert not records_of(customers).exists()


@pytest.mark.django_db
def test_unique_clash_shows_a_conflict_on_the_field(admin_client, customers):
    create_record("customers", name="Ada", email="ada@example.com")

    response = admin_client.post(records_url(customers, "add"), record_post(name="Eve", email="ada@example.com"))

    assert response.status_code == 200
    assert "Must be unique: this value is already used" in response.content.decode()
    assert records_of(customers).count() == 1


@pytest.mark.django_db
def test_edit_record(admin_client, customers):
    record = create_record("customers", name="Ada", email="ada@example.com", visits=1)
    assert 'value="ada@example.com"' in admin_client.get(records_url(customers, record.pk)).content.decode()

    response = admin_client.post(records_url(customers, record.pk), record_post(name="Ada L.", visits="2"))

    assert response.status_code == 302, response.content.decode()[:3000]
    record.refresh_from_db()
    values = api_values(customers, record)
    assert (values["name"], values["visits"], values["email"]) == ("Ada L.", 2, None)
    assert LogEntry.objects.get().change_message == f"Changed record {record.pk}"


def displayed_post(data_model, record):
    """What the browser posts back from an untouched edit form: each widget's rendered value."""
    form = RecordForm(entry=current_schema().by_id[data_model.pk], schema=current_schema(), admin_site=None,
                      values=api_values(data_model, record))
    data = {}
    for bound in form:
        if getattr(bound.field.widget, "allow_multiple_selected", False):
            data[bound.name] = bound.value()
            continue
        shown = bound.field.widget.format_value(bound.value())
        data[bound.name] = shown[0] if isinstance(shown, list) else (shown or "")
    return data


@pytest.mark.django_db
def test_saving_an_untouched_edit_form_changes_no_value(admin_client, customers):
    acme = create_record("companies", name="Acme")
    record = create_record(
        "customers", name="Ada", email="ada@example.com", status="inactive", vip=False, visits=7, company=acme.pk,
        suppliers=[acme.pk], tags=["new", "loyal"], joined="2024-02-29", seen_at="2024-05-01T10:30:15.250000Z",
        notes=" padded \n text ", extra={"nested": ["x", 1.5]}, embedding=[0.25, -1],
    )
    before = api_values(customers, record)

    response = admin_client.post(records_url(customers, record.pk), displayed_post(customers, record))

    assert response.status_code == 302, response.content.decode()[:3000]
    record.refresh_from_db()
    assert api_values(customers, record) == before


@pytest.mark.django_db
def test_edit_with_a_bad_value_changes_nothing(admin_client, customers):
    record = create_record("customers", name="Ada", visits=1)

    response = admin_client.post(records_url(customers, record.pk), record_post(name="", visits="2"))

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    record.refresh_from_db()
    assert api_values(customers, record)["visits"] == 1


# --- access -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_records_browser_needs_permission_and_a_known_model(client, customers, django_user_model):
    record = create_record("customers", name="Ada")
    django_user_model.objects.create_user("staff", password=PASSWORD, is_staff=True)
    client.login(username="staff", password=PASSWORD)
    autocomplete = reverse("admin:datamodels_datamodel_records_autocomplete", args=[customers.pk])

    for url in (records_url(customers), records_url(customers, "add"), records_url(customers, record.pk),
                records_url(customers, record.pk, "delete"), autocomplete):
        assert client.get(url).status_code == 403, url
    assert client.post(records_url(customers), {"action": "delete_selected", "_selected_action": [record.pk],
                                                "post": "yes"}).status_code == 403
    assert records_of(customers).count() == 1
    client.logout()
    assert client.get(records_url(customers)).status_code == 302  # to the login page


@pytest.mark.django_db
def test_staff_with_the_change_permission_browse_records(client, customers, django_user_model):
    user = django_user_model.objects.create_user("editor", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="change_datamodel"))
    client.login(username="editor", password=PASSWORD)

    assert client.get(records_url(customers)).status_code == 200
    assert client.post(records_url(customers, "add"), record_post(name="Ada")).status_code == 302
    assert records_of(customers).count() == 1


@pytest.mark.django_db
def test_unknown_model_or_record_is_404(admin_client, customers):
    assert admin_client.get("/admin/datamodels/datamodel/999999/records/").status_code == 404
    assert admin_client.get(records_url(customers, "rec_nope")).status_code == 404
    assert admin_client.get(records_url(customers, "rec_nope", "delete")).status_code == 404
    assert admin_client.get(records_url(customers, "rec_%00")).status_code == 404
    assert reverse("admin:datamodels_datamodel_records", args=[customers.pk]) == records_url(customers)
