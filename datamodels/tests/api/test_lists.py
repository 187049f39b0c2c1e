"""List requests: pagination, sorting, fields, filters, includes and keyset cursors."""

from __future__ import annotations

import base64
import json
import re

import pytest

from datamodels import services

from .conftest import create, error_of, url

# --- a small, known data set ----------------------------------------------------


@pytest.fixture
def data(api, customers, companies, projects):
    """Four customers with every field type filled differently (delta leaves optional ones empty)."""
    services.field_create(data_model=companies, name="parent", type="relation", related_model=companies)
    holding = create(api, "companies", {"name": "Holding", "country": "CH"})
    acme = create(api, "companies", {"name": "ACME Inc", "country": "NL", "parent": holding["id"]})
    beta = create(api, "companies", {"name": "Beta Corp", "country": "US", "parent": acme["id"]})
    apollo = create(api, "projects", {"title": "apollo", "budget": 5})
    gemini = create(api, "projects", {"title": "gemini", "budget": 9})
    rows = {
        "alpha": dict(email="alpha@acme.io", website="https://alpha.io", status="active", tags=["red"], age=20,
                      score=1.5, total=50, vip=True, birthday="1990-01-01", last_seen="2024-01-01T00:00:00Z",
                      notes="Hello World", meta={"k": 1}, code="AAA", company=acme["id"],
                      projects=[apollo["id"], gemini["id"]], embedding=[1, 0, 0]),
        "bravo": dict(email="bravo@beta.org", website="https://bravo.org", status="inactive", tags=["red", "green"],
                      age=30, score=2.5, total=150, vip=False, birthday="1995-06-15",
                      last_seen="2024-06-01T12:00:00Z", notes="second NOTE", code="BBB", company=beta["id"],
                      projects=[gemini["id"]]),
        "charlie": dict(email="charlie@acme.io", website="https://charlie.io", status="lead", tags=["blue"], age=40,
                        score=3.5, total=250.5, vip=False, birthday="2000-12-31",
                        last_seen="2025-01-01T00:00:00Z", notes="third", code="CCC", company=acme["id"]),
        "delta": {},
    }
    records = {name: create(api, "customers", {"name": name, **values}) for name, values in rows.items()}
    return {"records": records, "companies": {"holding": holding, "acme": acme, "beta": beta},
            "projects": {"apollo": apollo, "gemini": gemini}}


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["data"]]


def invalid_parameter(response, parameter: str) -> str:
    """Assert a 400 VALIDATION_ERROR naming exactly this parameter; return its message."""
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [parameter]
    return error["details"][0]["message"]


# --- pagination -----------------------------------------------------------------

def test_pagination_object_is_exact(api, data):
    first = api.get(url("customers", limit=3, sort="name:asc")).json()
    assert [r["name"] for r in first["data"]] == ["alpha", "bravo", "charlie"]
    assert set(first) == {"data", "pagination"}
    cursor = first["pagination"].pop("next_cursor")
    assert isinstance(cursor, str) and cursor
    assert first["pagination"] == {"page": 1, "limit": 3, "total": 4, "pages": 2}
    second = api.get(url("customers", limit=3, page=2, sort="name:asc")).json()
    assert [r["name"] for r in second["data"]] == ["delta"]
    assert second["pagination"] == {"page": 2, "limit": 3, "total": 4, "pages": 2, "next_cursor": None}


def test_defaults_are_page_1_limit_50(api, data):
    body = api.get(url("customers")).json()
    assert body["pagination"] == {"page": 1, "limit": 50, "total": 4, "pages": 1, "next_cursor": None}


def test_an_empty_model_has_zero_pages(api, customers):
    body = api.get(url("customers")).json()
    assert body == {"data": [], "pagination": {"page": 1, "limit": 50, "total": 0, "pages": 0, "next_cursor": None}}


@pytest.mark.parametrize("page", [3, 1000, 10**15])
def test_a_page_past_the_end_is_empty(api, data, page):
    response = api.get(url("customers", limit=2, page=page))
    assert response.status_code == 200
    assert response.json() == {
        "data": [], "pagination": {"page": page, "limit": 2, "total": 4, "pages": 2, "next_cursor": None},
    }


def test_a_full_last_page_has_no_next_cursor(api, data):
    body = api.get(url("customers", limit=2, page=2)).json()
    assert len(body["data"]) == 2
    assert body["pagination"] == {"page": 2, "limit": 2, "total": 4, "pages": 2, "next_cursor": None}


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"page": 0}, "page"),
        ({"page": -2}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1e3"}, "page"),
        ({"page": 10**15 + 1}, "page"),  # past MAX_PAGE: its offset would overflow PostgreSQL's bigint
    ],
)
def test_page_and_limit_out_of_range(api, data, params, parameter):
    invalid_parameter(api.get(url("customers", **params)), parameter)


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_allowed(api, data, limit):
    body = api.get(url("customers", limit=limit)).json()
    assert body["pagination"]["limit"] == limit and len(body["data"]) == min(limit, 4)


# --- sorting --------------------------------------------------------------------

@pytest.mark.parametrize(
    "sort, expected",
    [
        (["name:asc"], ["alpha", "bravo", "charlie", "delta"]),
        (["name"], ["alpha", "bravo", "charlie", "delta"]),
        (["name:desc"], ["delta", "charlie", "bravo", "alpha"]),
        (["age:asc"], ["alpha", "bravo", "charlie", "delta"]),  # NULLs last ascending
        (["age:desc"], ["delta", "charlie", "bravo", "alpha"]),  # and first descending
        (["total:desc"], ["delta", "charlie", "bravo", "alpha"]),
        (["birthday:asc"], ["alpha", "bravo", "charlie", "delta"]),
        (["last_seen:desc"], ["delta", "charlie", "bravo", "alpha"]),
        (["status:asc", "age:desc"], ["alpha", "bravo", "delta", "charlie"]),
        (["status:asc,age:desc"], ["alpha", "bravo", "delta", "charlie"]),
        (["status:desc", "name:asc"], ["charlie", "delta", "bravo", "alpha"]),
        (["vip:desc", "name:desc"], ["alpha", "delta", "charlie", "bravo"]),
        (["created_at:asc"], ["alpha", "bravo", "charlie", "delta"]),
        (["updated_at:desc"], ["delta", "charlie", "bravo", "alpha"]),
    ],
)
def test_sort(api, data, sort, expected):
    assert names(api.get(url("customers", sort=sort))) == expected


def test_default_sort_is_newest_first(api, data):
    assert names(api.get(url("customers"))) == ["delta", "charlie", "bravo", "alpha"]


def test_sort_by_id(api, data):
    ids = sorted(r["id"] for r in data["records"].values())
    listed = [r["id"] for r in api.get(url("customers", sort="id:desc")).json()["data"]]
    assert listed == ids[::-1]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_id_breaks_ties_in_the_direction_of_the_last_key(api, customers, direction):
    created = api.post(url("customers"), [{"name": f"n{i}", "status": "active"} for i in range(12)], format="json")
    ids = sorted(item["id"] for item in created.json()["data"])
    listed = [r["id"] for r in api.get(url("customers", sort=f"status:{direction}")).json()["data"]]
    assert listed == (ids if direction == "asc" else ids[::-1])
    # The first keys' directions do not matter, only the last one's.
    mixed = [r["id"] for r in api.get(url("customers", sort=["name:desc", "status:asc"])).json()["data"]]
    by_name = sorted(created.json()["data"], key=lambda r: r["name"], reverse=True)
    assert mixed == [r["id"] for r in by_name]


@pytest.mark.parametrize(
    "sort, fragment",
    [
        ("name:up", "asc or desc"),
        ("name:ASC", "asc or desc"),
        ("name:asc:desc", "asc or desc"),
        ("bogus:asc", "bogus"),
        ("meta:asc", "meta"),
        ("tags:asc", "tags"),
        ("embedding:asc", "embedding"),
        ("projects:asc", "projects"),
        ("company.name:asc", "company.name"),
        (":asc", ""),
    ],
)
def test_bad_sort(api, data, sort, fragment):
    assert fragment in invalid_parameter(api.get(url("customers", sort=sort)), "sort")


# --- fields ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "fields, keys",
    [
        ("id,name,email", ["id", "name", "email"]),
        ("name", ["name"]),
        ("email, name ,id", ["id", "name", "email"]),
        ("created_at,updated_at", ["created_at", "updated_at"]),
        ("projects,company", ["company", "projects"]),
        ("name,name", ["name"]),
    ],
)
def test_fields_selects_exactly_these_keys(api, data, fields, keys):
    for item in api.get(url("customers", fields=fields)).json()["data"]:
        assert list(item) == keys
    record = data["records"]["alpha"]
    single = api.get(url("customers", record["id"], fields=fields)).json()["data"]
    assert single == {key: record[key] for key in keys}


@pytest.mark.parametrize("fields", ["bogus", "id,bogus", "company.name", "ID"])
def test_unknown_fields_are_refused(api, data, fields):
    invalid_parameter(api.get(url("customers", fields=fields)), "fields")
    record_id = data["records"]["alpha"]["id"]
    invalid_parameter(api.get(url("customers", record_id, fields=fields)), "fields")


# --- filters --------------------------------------------------------------------

# (filter, names it selects): every operator on every field type that accepts it.
FILTERS = [
    # text
    ("name:bravo", {"bravo"}),
    ("name:Bravo", set()),
    ("name:!=bravo", {"alpha", "charlie", "delta"}),
    ("name:>bravo", {"charlie", "delta"}),
    ("name:>=bravo", {"bravo", "charlie", "delta"}),
    ("name:<bravo", {"alpha"}),
    ("name:<=bravo", {"alpha", "bravo"}),
    ("name:~RAV", {"bravo"}),
    ("name:~a", {"alpha", "bravo", "charlie", "delta"}),
    ("code:BBB", {"bravo"}),
    ("code:~b", {"bravo"}),
    # long_text
    ("notes:Hello World", {"alpha"}),
    ("notes:~note", {"bravo"}),
    ("notes:~WORLD", {"alpha"}),
    ("notes:!=third", {"alpha", "bravo", "delta"}),
    ("notes:>second NOTE", {"charlie"}),
    ("notes:<=second NOTE", {"alpha", "bravo"}),
    # email
    ("email:bravo@beta.org", {"bravo"}),
    ("email:!=alpha@acme.io", {"bravo", "charlie", "delta"}),
    ("email:~ACME", {"alpha", "charlie"}),
    ("email:>bravo@beta.org", {"charlie"}),
    ("email:>=bravo@beta.org", {"bravo", "charlie"}),
    ("email:<bravo@beta.org", {"alpha"}),
    ("email:<=bravo@beta.org", {"alpha", "bravo"}),
    # url
    ("website:https://bravo.org", {"bravo"}),
    ("website:~.IO", {"alpha", "charlie"}),
    ("website:!=https://bravo.org", {"alpha", "charlie", "delta"}),
    ("website:>https://bravo.org", {"charlie"}),
    ("website:<https://bravo.org", {"alpha"}),
    ("website:>=https://bravo.org", {"bravo", "charlie"}),
    ("website:<=https://bravo.org", {"alpha", "bravo"}),
    # select
    ("status:active", {"alpha"}),
    ("status:!=lead", {"alpha", "bravo"}),
    ("status:~ACT", {"alpha", "bravo"}),
    # multi_select: `:` means "contains this choice"
    ("tags:red", {"alpha", "bravo"}),
    ("tags:green", {"bravo"}),
    ("tags:!=red", {"charlie", "delta"}),
    # integer
    ("age:30", {"bravo"}),
    ("age:!=30", {"alpha", "charlie", "delta"}),
    ("age:>30", {"charlie"}),
    ("age:>=30", {"bravo", "charlie"}),
    ("age:<30", {"alpha"}),
    ("age:<=30", {"alpha", "bravo"}),
    ("age:-5", set()),
    # number (float)
    ("score:2.5", {"bravo"}),
    ("score:!=2.5", {"alpha", "charlie", "delta"}),
    ("score:>2", {"bravo", "charlie"}),
    ("score:>=2.5", {"bravo", "charlie"}),
    ("score:<2.5", {"alpha"}),
    ("score:<=3.5", {"alpha", "bravo", "charlie"}),
    # number (decimal)
    ("total:150", {"bravo"}),
    ("total:250.50", {"charlie"}),
    ("total:>100", {"bravo", "charlie"}),
    ("total:>=150", {"bravo", "charlie"}),
    ("total:<150", {"alpha"}),
    ("total:<=150.0", {"alpha", "bravo"}),
    ("total:!=50", {"bravo", "charlie", "delta"}),
    # boolean
    ("vip:true", {"alpha"}),
    ("vip:TRUE", {"alpha"}),
    ("vip:1", {"alpha"}),
    ("vip:yes", {"alpha"}),
    ("vip:false", {"bravo", "charlie", "delta"}),
    ("vip:0", {"bravo", "charlie", "delta"}),
    ("vip:!=true", {"bravo", "charlie", "delta"}),
    # date
    ("birthday:1995-06-15", {"bravo"}),
    ("birthday:!=1995-06-15", {"alpha", "charlie", "delta"}),
    ("birthday:>1995-06-15", {"charlie"}),
    ("birthday:>=1995-06-15", {"bravo", "charlie"}),
    ("birthday:<1995-06-15", {"alpha"}),
    ("birthday:<=1995-06-15", {"alpha", "bravo"}),
    # datetime
    ("last_seen:2024-06-01T12:00:00Z", {"bravo"}),
    ("last_seen:2024-06-01T14:00:00+02:00", {"bravo"}),
    ("last_seen:!=2024-06-01T12:00:00Z", {"alpha", "charlie", "delta"}),
    ("last_seen:>2024-06-01T12:00:00Z", {"charlie"}),
    ("last_seen:>=2024-06-01T12:00:00Z", {"bravo", "charlie"}),
    ("last_seen:<2024-06-01T12:00:00Z", {"alpha"}),
    ("last_seen:<=2024-06-01T12:00:00.000Z", {"alpha", "bravo"}),
    ("last_seen:>2024-06-01", {"bravo", "charlie"}),
    # system columns
    ("created_at:>=2024-01-01T00:00:00Z", {"alpha", "bravo", "charlie", "delta"}),
    ("created_at:<2024-01-01T00:00:00Z", set()),
    ("updated_at:>2000-01-01T00:00:00Z", {"alpha", "bravo", "charlie", "delta"}),
    # relations
    ("company:null", {"delta"}),
    ("company:!=null", {"alpha", "bravo", "charlie"}),
    ("projects:null", {"charlie", "delta"}),
    ("projects:!=null", {"alpha", "bravo"}),
    # null on scalar types
    ("age:null", {"delta"}),
    ("age:!=null", {"alpha", "bravo", "charlie"}),
    ("name:null", set()),
    ("tags:null", {"delta"}),
    ("birthday:null", {"delta"}),
    ("last_seen:!=null", {"alpha", "bravo", "charlie"}),
    ("meta:null", {"bravo", "charlie", "delta"}),
    ("meta:!=null", {"alpha"}),
    ("vip:null", set()),
    # through relations
    ("company.name:~acme", {"alpha", "charlie"}),
    ("company.name:~ACME", {"alpha", "charlie"}),
    ("company.country:US", {"bravo"}),
    ("company.country:!=US", {"alpha", "charlie", "delta"}),
    ("company.parent.name:Holding", {"alpha", "charlie"}),
    ("company.parent.parent.name:Holding", {"bravo"}),
    ("company.parent:null", {"delta"}),
    ("projects.title:gemini", {"alpha", "bravo"}),
    ("projects.title:~EMI", {"alpha", "bravo"}),
    ("projects.budget:>6", {"alpha", "bravo"}),
    ("projects.budget:<6", {"alpha"}),
]


FILTERS_BY_FIELD: dict[str, list] = {}
for _case in FILTERS:
    FILTERS_BY_FIELD.setdefault(re.split(r"[.:]", _case[0], maxsplit=1)[0], []).append(_case)


@pytest.mark.parametrize("field", list(FILTERS_BY_FIELD))
def test_filter(api, data, field):
    """Every case of one field: the names selected and the total, each record once even through joins."""
    got, want = {}, {}
    for expression, expected in FILTERS_BY_FIELD[field]:
        response = api.get(url("customers", filter=expression, sort="name:asc"))
        got[expression] = (names(response), response.json()["pagination"]["total"])
        want[expression] = (sorted(expected), len(expected))
    assert got == want


def test_filter_by_id_and_relation_ids(api, data):
    records, acme = data["records"], data["companies"]["acme"]
    assert names(api.get(url("customers", filter=f"id:{records['bravo']['id']}"))) == ["bravo"]
    assert len(names(api.get(url("customers", filter=f"id:!={records['bravo']['id']}")))) == 3
    assert sorted(names(api.get(url("customers", filter=f"company:{acme['id']}")))) == ["alpha", "charlie"]
    assert sorted(names(api.get(url("customers", filter=f"company:!={acme['id']}")))) == ["bravo", "delta"]
    gemini = data["projects"]["gemini"]["id"]
    assert sorted(names(api.get(url("customers", filter=f"projects:{gemini}")))) == ["alpha", "bravo"]
    assert names(api.get(url("customers", filter=f"company.id:{acme['id']}", sort="name"))) == ["alpha", "charlie"]


@pytest.mark.parametrize(
    "filters, expected",
    [
        (["status:!=lead", "age:>25"], {"bravo"}),
        (["tags:red", "tags:green"], {"bravo"}),
        (["company.name:~acme", "vip:false"], {"charlie"}),
        (["age:>100", "age:<0"], set()),
    ],
)
def test_filters_combine_with_and(api, data, filters, expected):
    assert names(api.get(url("customers", filter=filters, sort="name"))) == sorted(expected)


BAD_FILTERS = {
    "value that does not parse": [
        "age:abc", "age:1.5", "age:>", "score:abc", "score:nan", "score:>=inf", "total:12,5",
        "vip:maybe", "vip:", "birthday:1995-6-15", "birthday:yesterday", "last_seen:soon",
        "created_at:>=2024-13-01T00:00:00Z", "updated_at:nope", "status:purple", "tags:purple",
        "email:not-an-email", "website:ftp://x.org",
    ],
    "unknown field": [
        "bogus:1", "Name:alpha", "company.bogus:x", "company.parent.bogus:x", ".name:x", "name.:x",
    ],
    "not a relation, too deep, no operator": [
        "name.first:x", "company.parent.parent.parent.name:x", "name", "",
    ],
    "operator that does not fit the type": [
        "age:~3", "score:~1", "total:~1", "vip:>true", "vip:~t", "birthday:~1995", "last_seen:~2024",
        "status:>active", "status:<=active", "tags:~red", "tags:>red", "meta:x", "meta:~x",
        "embedding:x", "company:>rec_01ARZ3NDEKTSV4RRFFQ69G5FAV", "company:~acme", "projects:~x",
        "id:>rec_x", "id:~rec", "created_at:~2024",
    ],
}


@pytest.mark.parametrize("kind", list(BAD_FILTERS))
def test_bad_filter_names_the_filter(api, data, kind):
    for expression in BAD_FILTERS[kind]:
        message = invalid_parameter(api.get(url("customers", filter=expression)), "filter")
        assert expression in message, (expression, message)


def test_filter_values_with_colons_and_odd_characters(api, customers):
    create(api, "customers", {"name": "a:b>c", "notes": "100% ~sure_"})
    create(api, "customers", {"name": "plain", "notes": "100 percent"})
    assert names(api.get(url("customers", filter="name:a:b>c"))) == ["a:b>c"]
    assert names(api.get(url("customers", filter="notes:~100%"))) == ["a:b>c"]
    assert names(api.get(url("customers", filter="notes:~~sure_"))) == ["a:b>c"]
    assert names(api.get(url("customers", filter="notes:~e_"))) == ["a:b>c"]


def test_filter_with_a_nul_character_is_refused(api, data):
    invalid_parameter(api.get(url("customers", filter="name:a\x00b")), "filter")
    invalid_parameter(api.get(url("customers", filter="name:~a\x00b")), "filter")


# --- include --------------------------------------------------------------------

def test_include_to_one(api, data):
    acme, beta = data["companies"]["acme"], data["companies"]["beta"]
    listed = api.get(url("customers", include="company", sort="name")).json()["data"]
    assert [item["company"] for item in listed] == [acme, beta, acme, None]
    assert listed[0]["projects"] == data["records"]["alpha"]["projects"]  # not included: still ids


def test_include_to_many_keeps_the_stored_order(api, data):
    apollo, gemini = data["projects"]["apollo"], data["projects"]["gemini"]
    listed = api.get(url("customers", include="projects", sort="name")).json()["data"]
    assert [item["projects"] for item in listed] == [[apollo, gemini], [gemini], [], []]
    assert listed[0]["company"] == data["companies"]["acme"]["id"]


def test_include_both_on_a_single_record(api, data):
    alpha = data["records"]["alpha"]
    body = api.get(url("customers", alpha["id"], include="company,projects")).json()["data"]
    assert body == {
        **alpha, "company": data["companies"]["acme"],
        "projects": [data["projects"]["apollo"], data["projects"]["gemini"]],
    }


def test_include_nested_to_depth_three(api, data):
    holding, acme, beta = (data["companies"][n] for n in ("holding", "acme", "beta"))
    listed = api.get(url("customers", include="company.parent.parent", sort="name")).json()["data"]
    alpha_company = {**acme, "parent": {**holding, "parent": None}}
    bravo_company = {**beta, "parent": {**acme, "parent": {**holding, "parent": None}}}
    assert [item["company"] for item in listed] == [alpha_company, bravo_company, alpha_company, None]


def test_include_with_fields(api, data):
    listed = api.get(url("customers", fields="name", include="company", sort="name")).json()["data"]
    assert listed[1] == {"name": "bravo", "company": data["companies"]["beta"]}


@pytest.mark.parametrize(
    "include",
    ["company.parent.parent.parent", "bogus", "name", "company.name", "company.bogus", "Company", "embedding"],
)
def test_bad_include(api, data, include):
    invalid_parameter(api.get(url("customers", include=include)), "include")
    invalid_parameter(api.get(url("customers", data["records"]["alpha"]["id"], include=include)), "include")


# --- walking every page -----------------------------------------------------------

STATUSES = ["new", "open", "pending", "solved", "closed"]


@pytest.fixture
def tickets(api, db):
    """237 tickets over 5 statuses (many equal sort keys), `rank` empty on every seventh."""
    services.data_model_create(name="tickets", fields=[
        {"name": "title", "type": "text"},
        {"name": "status", "type": "select", "choices": STATUSES},
        {"name": "rank", "type": "integer"},
    ])
    items = [{"title": f"t{i:03}", "status": STATUSES[i % 5], "rank": None if i % 7 == 0 else i % 11}
             for i in range(237)]
    created = []
    for start in range(0, len(items), 100):  # three batches: three distinct created_at values
        response = api.post(url("tickets"), items[start:start + 100], format="json")
        assert response.status_code == 201
        created += response.json()["data"]
    return created


def expected_order(records: list[dict], sort: list[str]) -> list[str]:
    """Ids in the order PostgreSQL gives: NULLs last ascending, first descending, id last."""
    keyed = list(records)
    last_desc = sort[-1].endswith(":desc")
    keyed.sort(key=lambda r: r["id"], reverse=last_desc)
    for key in reversed(sort):
        name, _, direction = key.partition(":")
        desc = direction == "desc"
        keyed.sort(key=lambda r: (r[name] is None, r[name] if r[name] is not None else 0), reverse=desc)
    return [r["id"] for r in keyed]


def walk_pages(api, params: dict) -> list[str]:
    seen, page = [], 1
    while True:
        body = api.get(url("tickets", page=page, **params)).json()
        if not body["data"]:
            assert page == body["pagination"]["pages"] + 1
            return seen
        assert body["pagination"]["total"] == 237
        seen += [item["id"] for item in body["data"]]
        page += 1


def walk_cursor(api, params: dict) -> list[str]:
    body = api.get(url("tickets", **params)).json()
    seen = [item["id"] for item in body["data"]]
    while body["pagination"]["next_cursor"]:
        response = api.get(url("tickets", cursor=body["pagination"]["next_cursor"], **params))
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body["pagination"]) == {"limit", "next_cursor"}
        assert body["pagination"]["limit"] == params["limit"]
        assert body["data"], "a next_cursor must lead to a page with records"
        seen += [item["id"] for item in body["data"]]
    return seen


@pytest.mark.parametrize(
    "sort",
    [
        ["status:asc"],
        ["status:desc"],
        ["rank:asc"],
        ["rank:desc"],
        ["status:asc", "rank:desc"],
        ["rank:desc", "status:asc"],
        ["created_at:desc"],
        ["created_at:asc"],
        ["created_at:asc", "status:desc"],
        ["title:asc"],
    ],
)
@pytest.mark.parametrize("limit", [10, 37])
def test_walk_every_page_by_number_and_by_cursor(api, tickets, sort, limit):
    expected = expected_order(tickets, sort)
    params = {"sort": sort, "limit": limit}
    by_page = walk_pages(api, params)
    assert by_page == expected
    by_cursor = walk_cursor(api, params)
    assert by_cursor == expected


def test_walk_with_a_filter(api, tickets):
    kept = [t for t in tickets if t["rank"] is not None and t["rank"] > 4]
    params = {"sort": ["status:desc"], "limit": 9, "filter": "rank:>4"}
    assert walk_cursor(api, params) == expected_order(kept, ["status:desc"])


def test_a_cursor_continues_a_numbered_page(api, tickets):
    expected = expected_order(tickets, ["status:asc"])
    first = api.get(url("tickets", sort="status:asc", limit=50, page=3)).json()
    after = api.get(url("tickets", sort="status:asc", limit=50, cursor=first["pagination"]["next_cursor"])).json()
    assert [t["id"] for t in first["data"] + after["data"]] == expected[100:200]


def test_the_default_sort_walks_too(api, tickets):
    expected = expected_order(tickets, ["created_at:desc"])
    assert walk_cursor(api, {"limit": 25}) == expected


def _cursor(payload) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!!",
        "e30",  # {}
        _cursor([1, 2]),
        _cursor("text"),
        _cursor({"s": ["f_1:0"], "v": [1, "rec_x"]}),
        _cursor({"s": ["status:0"]}),
    ],
)
def test_malformed_cursor_is_a_bad_request(api, tickets, cursor):
    response = api.get(url("tickets", sort="status:asc", cursor=cursor))
    assert "details" not in error_of(response, 400, "BAD_REQUEST")


def test_a_cursor_of_another_sort_is_a_bad_request(api, tickets):
    cursor = api.get(url("tickets", sort="status:asc", limit=5)).json()["pagination"]["next_cursor"]
    error_of(api.get(url("tickets", sort="status:desc", limit=5, cursor=cursor)), 400, "BAD_REQUEST")
    error_of(api.get(url("tickets", sort="rank:asc", limit=5, cursor=cursor)), 400, "BAD_REQUEST")


def _tampered(cursor: str, change) -> str:
    """The cursor with its JSON payload changed; any signature after a "." is kept as it was."""
    encoded, dot, signature = cursor.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    change(payload)
    return _cursor(payload) + dot + signature


@pytest.mark.parametrize(
    "sort, change",
    [
        ("created_at:desc", lambda p: p["v"].__setitem__(0, "not a time")),
        ("created_at:desc", lambda p: p["v"].__setitem__(0, {"t": "not a time"})),
        ("created_at:desc", lambda p: p["v"].__setitem__(0, {"t": 5})),
        ("created_at:desc", lambda p: p["v"].__setitem__(1, {"d": "x"})),
        ("rank:asc", lambda p: p["v"].__setitem__(0, "seven")),
        ("rank:asc", lambda p: p["v"].__setitem__(0, [1])),
        ("rank:asc", lambda p: p["v"].__setitem__(0, {"x": 1})),
        ("status:asc", lambda p: p["v"].__setitem__(0, 12)),
        ("status:asc", lambda p: p["v"].__setitem__(1, None)),
    ],
)
def test_a_tampered_cursor_is_a_bad_request_not_a_server_error(api, tickets, sort, change):
    cursor = api.get(url("tickets", sort=sort, limit=5)).json()["pagination"]["next_cursor"]
    forged = _tampered(cursor, change)
    assert "details" not in error_of(api.get(url("tickets", sort=sort, limit=5, cursor=forged)), 400, "BAD_REQUEST")


def test_a_truncated_cursor_is_a_bad_request(api, tickets):
    cursor = api.get(url("tickets", sort="status:asc", limit=5)).json()["pagination"]["next_cursor"]
    for forged in (cursor[:-1], cursor[1:], cursor.partition(".")[0], cursor + "x"):
        error_of(api.get(url("tickets", sort="status:asc", limit=5, cursor=forged)), 400, "BAD_REQUEST")
