"""The records browser in a real Chromium: sort, pages, filters, search, bulk delete, pickers, forms.

Playwright drives Debian's Chromium against `live_server` (fixtures in
`infinity.testing.browser`), logged in as `superuser`. Data is made through the
record services and committed (`committed_schema`); every test checks what the
page shows and what the database holds afterwards. Set `RECORDS_SCREENSHOTS` to a
directory to keep screenshots of the list and the record page.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from datamodels import services
from datamodels.dynamic import current_schema
from datamodels.records import record_create

LONG_NOTES = "The quick brown fox jumps over the lazy dog. " * 40  # 1,800 characters
pytestmark = pytest.mark.usefixtures("committed_schema")


@pytest.fixture
def shop(committed_schema):
    """`companies` (name) and `customers` with a field of every kind the browser filters or shortens."""
    companies = services.data_model_create(name="companies", fields=[{"name": "name", "type": "text"}])
    customers = services.data_model_create(name="customers", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email"},
        {"name": "status", "type": "select", "choices": ["active", "inactive"]},
        {"name": "vip", "type": "boolean"},
        {"name": "visits", "type": "integer"},
        {"name": "joined", "type": "date"},
        {"name": "seen_at", "type": "datetime"},
        {"name": "company", "type": "relation", "related_model": companies},
        {"name": "suppliers", "type": "relation", "related_model": companies, "many": True},
        {"name": "notes", "type": "long_text"},
        {"name": "extra", "type": "json"},
        {"name": "embedding", "type": "vector", "dimensions": 40},
    ])
    return customers


def create(model_name: str, **data):
    return record_create(entry=current_schema().get(model_name), data=data)


def stored(record_id: str) -> dict | None:
    """A customer as the database holds it (JSON-shaped, by field name), None when gone."""
    from datamodels.admin_records_form import record_values

    entry = current_schema().get("customers")
    record = entry.model.objects.filter(pk=record_id).first()
    return None if record is None else record_values(entry, record)


def customer_ids() -> set[str]:
    return set(current_schema().get("customers").model.objects.values_list("pk", flat=True))


def open_list(page, data_model, query: str = ""):
    page.goto(f"{page.base_url}/admin/datamodels/datamodel/{data_model.pk}/records/{query}")


def names(page) -> list[str]:
    return page.locator("#result_list td.field-cell_name").all_inner_texts()


def expect_names(page, expected: list[str]) -> None:
    """The list shows these names, top to bottom (waiting for the page a click opened)."""
    if expected:
        expect(page.locator("#result_list td.field-cell_name")).to_have_text(expected)
    else:
        expect(page.locator("#result_list td.field-cell_name")).to_have_count(0)


def screenshot(page, name: str) -> None:
    folder = os.environ.get("RECORDS_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def test_clicking_a_header_sorts_one_way_then_the_other(admin_page, shop):
    for name, visits in (("bea", 20), ("cal", 3), ("abe", 100)):
        create("customers", name=name, visits=visits)
    open_list(admin_page, shop)
    expect_names(admin_page, ["abe", "cal", "bea"])  # newest first

    admin_page.click("#result_list th.column-cell_visits a")
    expect_names(admin_page, ["cal", "bea", "abe"])
    assert admin_page.locator("th.column-cell_visits").get_attribute("class").split()[-1] == "ascending"

    admin_page.click("#result_list th.column-cell_visits div.text a")
    expect_names(admin_page, ["abe", "bea", "cal"])
    assert "descending" in admin_page.locator("th.column-cell_visits").get_attribute("class")


def test_pages_of_fifty_with_the_total(admin_page, shop):
    for number in range(57):
        create("customers", name=f"customer {number:02d}")
    open_list(admin_page, shop)

    assert len(names(admin_page)) == 50
    assert "57 records" in admin_page.locator("p.paginator").inner_text()
    admin_page.locator("p.paginator a", has_text="2").click()

    expect_names(admin_page, [f"customer {n:02d}" for n in range(6, -1, -1)])
    assert admin_page.locator("p.paginator .this-page").inner_text() == "2"


@pytest.fixture
def filterable(shop):
    acme, globex = create("companies", name="Acme"), create("companies", name="Globex")
    create("customers", name="ann", status="active", vip=True, visits=1, joined="2024-01-10",
           seen_at="2024-01-10T08:00:00Z", company=acme.pk, suppliers=[globex.pk])
    create("customers", name="bob", status="inactive", vip=False, visits=5, joined="2024-03-01",
           seen_at="2024-03-01T12:00:00Z", company=globex.pk, suppliers=[acme.pk, globex.pk])
    create("customers", name="cid", status="active", visits=9, joined="2024-06-30", seen_at="2024-06-30T23:59:59Z")
    return shop


def filter_box(page, title: str):
    return page.locator(f'#changelist-filter details[data-filter-title="{title}"]')


def test_choice_filters_for_select_and_boolean(admin_page, filterable):
    open_list(admin_page, filterable)

    filter_box(admin_page, "status").get_by_role("link", name="inactive").click()
    expect_names(admin_page, ["bob"])
    filter_box(admin_page, "status").get_by_role("link", name="All").click()
    filter_box(admin_page, "vip").get_by_role("link", name="yes").click()
    expect_names(admin_page, ["ann"])
    filter_box(admin_page, "vip").get_by_role("link", name="empty").click()
    expect_names(admin_page, ["cid"])
    assert "1 result (3 total)" in admin_page.locator("#changelist-search").inner_text()


def test_from_to_filters_for_numbers_dates_and_datetimes(admin_page, filterable):
    open_list(admin_page, filterable)

    visits = filter_box(admin_page, "visits")
    visits.locator("input[name=visits__gte]").fill("2")
    visits.get_by_role("button", name="Apply").click()
    expect_names(admin_page, ["cid", "bob"])

    joined = filter_box(admin_page, "joined")
    joined.locator("input[name=joined__lte]").fill("2024-03-01")
    joined.get_by_role("button", name="Apply").click()
    expect_names(admin_page, ["bob"])  # both ranges apply
    assert admin_page.locator("#filter-visits__gte").input_value() == "2"

    admin_page.get_by_role("link", name="Clear all filters").click()
    seen = filter_box(admin_page, "seen_at")
    seen.locator("input[name=seen_at__gte]").fill("2024-03-01T12:00")
    seen.get_by_role("button", name="Apply").click()
    expect_names(admin_page, ["cid", "bob"])
    screenshot(admin_page, "records-list-filtered.png")


def test_a_relation_filter_picks_its_target_by_search(admin_page, filterable):
    open_list(admin_page, filterable)

    filter_box(admin_page, "company").locator(".select2-selection").click()
    admin_page.locator(".select2-container--open .select2-search__field").fill("glob")
    admin_page.locator(".select2-results__option", has_text="Globex").click()
    admin_page.wait_for_url(re.compile(r"company__exact=rec_"))
    expect_names(admin_page, ["bob"])

    filter_box(admin_page, "suppliers").locator(".select2-selection").click()
    admin_page.locator(".select2-container--open .select2-search__field").fill("acm")
    admin_page.locator(".select2-results__option", has_text="Acme").click()
    admin_page.wait_for_url(re.compile(r"suppliers__exact=rec_"))
    expect_names(admin_page, ["bob"])


def test_search_finds_words_in_text_fields(admin_page, shop):
    create("customers", name="Ada Lovelace", email="ada@example.com")
    create("customers", name="Grace Hopper")
    open_list(admin_page, shop)

    admin_page.fill("#searchbar", "lovelace")
    admin_page.press("#searchbar", "Enter")

    expect_names(admin_page, ["Ada Lovelace"])
    assert "1 result (2 total)" in admin_page.locator("#changelist-search").inner_text()


def test_bulk_delete_confirms_with_the_count(admin_page, shop):
    doomed = [create("customers", name=f"gone {n}") for n in range(2)]
    kept = create("customers", name="kept")
    open_list(admin_page, shop)

    for record in doomed:
        admin_page.locator(f'input.action-select[value="{record.pk}"]').check()
    admin_page.select_option("select[name=action]", "delete_selected")
    admin_page.get_by_role("button", name="Go").click()

    assert "Delete 2 records of customers?" in admin_page.locator("#delete-summary").inner_text()
    assert customer_ids() == {kept.pk, *(r.pk for r in doomed)}  # nothing yet
    screenshot(admin_page, "records-delete-confirmation.png")
    admin_page.get_by_role("button", name="Yes, delete 2 records").click()

    assert "Successfully deleted 2 records." in admin_page.locator("ul.messagelist").inner_text()
    expect_names(admin_page, ["kept"])
    assert customer_ids() == {kept.pk}


def pick(page, field: str, term: str, label: str) -> None:
    page.locator(f".field-{field} .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(term)
    page.locator(".select2-results__option", has_text=label).click()


def test_relations_are_picked_with_autocomplete_and_saved_as_ids(admin_page, shop):
    acme, globex = create("companies", name="Acme"), create("companies", name="Globex")
    admin_page.goto(f"{admin_page.base_url}/admin/datamodels/datamodel/{shop.pk}/records/add/")

    admin_page.fill("#id_name", "Ada")
    pick(admin_page, "company", "glo", "Globex")
    pick(admin_page, "suppliers", "acm", "Acme")
    pick(admin_page, "suppliers", "glo", "Globex")
    admin_page.get_by_role("button", name="Save and continue editing").click()

    record_id = admin_page.locator(".field-id .readonly").inner_text()
    values = stored(record_id)
    assert values["company"] == globex.pk
    assert sorted(values["suppliers"]) == sorted([acme.pk, globex.pk])
    assert admin_page.locator(".field-company .select2-selection__rendered").inner_text().endswith("Globex")


def test_long_values_are_short_in_the_list_and_whole_on_the_record_page(admin_page, shop):
    extra = {"description": "x" * 200, "tags": list(range(30))}
    embedding = [round(0.001 * n, 3) for n in range(40)]
    record = create("customers", name="Ada", notes=LONG_NOTES, extra=extra, embedding=embedding)
    open_list(admin_page, shop)

    notes_cell = admin_page.locator("td.field-cell_notes").inner_text()
    assert notes_cell.startswith("The quick brown fox") and notes_cell.endswith("…") and len(notes_cell) <= 80
    assert len(admin_page.locator("td.field-cell_extra").inner_text()) <= 80
    assert admin_page.locator("td.field-cell_embedding").inner_text().endswith("…] (40 numbers)")

    admin_page.get_by_role("link", name=record.pk).click()

    assert admin_page.locator("#id_notes").input_value() == LONG_NOTES
    assert json.loads(admin_page.locator("#id_extra").input_value()) == extra
    assert json.loads(admin_page.locator("#id_embedding").input_value()) == pytest.approx(embedding, abs=1e-6)
    screenshot(admin_page, "record-page.png")


def api_errors(base_url: str, key: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base_url}/api/public/data/customers", data=json.dumps(body).encode(),
                                     headers={"X-API-Key": key, "Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    return {d["field"]: d["message"] for d in json.loads(refused.value.read())["error"]["details"]}


def test_a_bad_value_shows_the_api_message_on_its_field_and_writes_nothing(admin_page, shop, make_api_key):
    admin_page.goto(f"{admin_page.base_url}/admin/datamodels/datamodel/{shop.pk}/records/add/")

    admin_page.fill("#id_name", "Ada")
    admin_page.fill("#id_email", "ada-at-example")
    admin_page.fill("#id_visits", "many")
    admin_page.get_by_role("button", name="Save", exact=True).click()

    api = api_errors(admin_page.base_url, make_api_key()[1], {"name": "Ada", "email": "ada-at-example",
                                                              "visits": "many"})
    assert admin_page.locator(".errornote").inner_text() == "Please correct the errors below."
    assert admin_page.locator(".field-email .errorlist").inner_text() == api["email"] == "Must be a valid email address"
    assert admin_page.locator(".field-visits .errorlist").inner_text() == api["visits"] == "Must be an integer"
    assert admin_page.locator(".field-name .errorlist").count() == 0
    assert admin_page.locator("#id_visits").input_value() == "many"  # the input is kept to correct
    assert customer_ids() == set()
