"""`/api/schema` and `/api/docs`: a valid OpenAPI 3 document built from the live data models.

Every test fetches the document over HTTP through the whole middleware stack, after
creating models through the services, so "live" means exactly what a client sees.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
import yaml
from django.contrib.staticfiles import finders
from django.test import modify_settings
from drf_spectacular.validation import validate_schema
from schemathesis.core.result import Err

from datamodels import dynamic, services
from datamodels.models import DataModel

pytestmark = pytest.mark.django_db

SCHEMA, DOCS = "/api/schema", "/api/docs"
CUSTOMERS = "/api/public/data/customers"
ERROR_REF = {"$ref": "#/components/schemas/Error"}

# (field definition, its property in CustomersRecord): one row per field type.
RECORD_TYPES = [
    ({"name": "name", "type": "text", "required": True, "max_length": 200}, {"type": "string", "nullable": True}),
    ({"name": "bio", "type": "long_text"}, {"type": "string", "nullable": True}),
    ({"name": "email", "type": "email", "unique": True},
     {"type": "string", "format": "email", "nullable": True,
      "description": "Unique: a value already used is a 409 `CONFLICT`."}),
    ({"name": "website", "type": "url"}, {"type": "string", "format": "uri", "nullable": True}),
    ({"name": "status", "type": "select", "choices": ["active", "inactive"], "default": "active"},
     {"type": "string", "enum": ["active", "inactive", None], "nullable": True}),
    ({"name": "tags", "type": "multi_select", "choices": ["a", "b"]},
     {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "nullable": True}),
    ({"name": "visits", "type": "integer", "min_value": 0, "max_value": 1000},
     {"type": "integer", "format": "int64", "nullable": True}),
    ({"name": "total", "type": "number"}, {"type": "number", "format": "double", "nullable": True}),
    ({"name": "vip", "type": "boolean"}, {"type": "boolean", "nullable": True}),
    ({"name": "born", "type": "date"}, {"type": "string", "format": "date", "nullable": True}),
    ({"name": "seen_at", "type": "datetime"}, {"type": "string", "format": "date-time", "nullable": True}),
    ({"name": "meta", "type": "json", "help_text": "Free-form"}, {"description": "Free-form Any JSON value."}),
    ({"name": "embedding", "type": "vector", "dimensions": 3},
     {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3, "nullable": True,
      "description": "Vector of 3 numbers; returned only when named in `fields`."}),
]
COMPANY_REF = {"$ref": "#/components/schemas/CompaniesRecord"}


@pytest.fixture(autouse=True)
def fresh_schema_cache():
    """Tests roll back, so schema versions repeat across tests: never serve another test's classes."""
    dynamic._cache.update(version=None, schema=None)
    yield
    dynamic._cache.update(version=None, schema=None)


@pytest.fixture
def customers():
    """`companies`, and `customers` with one field of every type and both kinds of relation."""
    companies = services.data_model_create(name="companies", fields=[{"name": "name", "type": "text"}])
    fields = [dict(definition) for definition, _ in RECORD_TYPES]
    fields += [
        {"name": "company", "type": "relation", "related_model": companies},
        {"name": "partners", "type": "relation", "related_model": companies, "many": True},
    ]
    return services.data_model_create(name="customers", label="Customer", fields=fields)


def fetch(client, path=SCHEMA, params=None, **headers) -> dict:
    response = client.get(path, params or {}, **headers)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_is_valid_openapi_3(key_client, customers):
    document = fetch(key_client)

    assert document["openapi"].startswith("3.0")
    validate_schema(document)  # jsonschema against the official OpenAPI 3.0 JSON Schema
    loaded = schemathesis.openapi.from_dict(document)
    results = list(loaded.get_all_operations())
    assert [str(result.err()) for result in results if isinstance(result, Err)] == []
    assert len(results) == sum(len(item) for item in document["paths"].values())


def test_yaml_on_request_is_the_same_document(key_client, customers):
    response = key_client.get(SCHEMA, {"format": "yaml"})

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/vnd.oai.openapi"
    assert yaml.safe_load(response.content) == fetch(key_client)


def test_every_model_gets_its_path_set_with_operation_ids(key_client, customers):
    document = fetch(key_client)

    assert {path: sorted(item) for path, item in document["paths"].items() if "/public/data/" in path} == {
        "/api/public/data/companies": ["get", "post"],
        "/api/public/data/companies/{id}": ["delete", "get", "patch", "put"],
        CUSTOMERS: ["get", "post"],
        CUSTOMERS + "/{id}": ["delete", "get", "patch", "put"],
        CUSTOMERS + "/search": ["get", "post"],  # customers has a vector field (search adds these)
        CUSTOMERS + "/{id}/similar": ["get"],
    }
    assert [operation["operationId"] for path, _, operation in operations(document) if "customers" in path] == [
        "customers_list", "customers_create", "customers_search", "customers_search_by_vector", "customers_retrieve",
        "customers_update", "customers_partial_update", "customers_destroy", "customers_similar",
    ]
    assert not {"/api/public/data/{model}", SCHEMA, DOCS} & set(document["paths"])


def test_a_model_created_after_a_fetch_is_in_the_next_fetch(key_client, customers):
    before = fetch(key_client)
    services.data_model_create(name="orders", fields=[{"name": "total", "type": "number"}])

    after = fetch(key_client)

    assert "/api/public/data/orders" not in before["paths"]
    assert sorted(after["paths"]["/api/public/data/orders"]) == ["get", "post"]
    assert after["components"]["schemas"]["OrdersRecord"]["properties"]["total"]["type"] == "number"


def test_a_removed_field_and_a_renamed_model_change_the_next_fetch(key_client, customers):
    fetch(key_client)
    services.field_delete(field=customers.fields.get(name="website"))
    services.data_model_update(data_model=DataModel.objects.get(name="companies"), name="firms")

    document = fetch(key_client)

    schemas = document["components"]["schemas"]
    assert "website" not in schemas["CustomersRecord"]["properties"]
    assert "website" not in schemas["CustomersInput"]["properties"]
    assert "/api/public/data/firms" in document["paths"]
    assert "/api/public/data/companies" not in document["paths"]
    assert schemas["CustomersRecord"]["properties"]["company"]["anyOf"][1] == {
        "$ref": "#/components/schemas/FirmsRecord"
    }


@pytest.mark.parametrize(("definition", "expected"), RECORD_TYPES, ids=[d["type"] for d, _ in RECORD_TYPES])
def test_the_record_component_gives_each_field_its_json_type(key_client, customers, definition, expected):
    record = fetch(key_client)["components"]["schemas"]["CustomersRecord"]

    assert record["properties"][definition["name"]] == expected


def test_the_record_component_has_system_keys_and_relations(key_client, customers):
    record = fetch(key_client)["components"]["schemas"]["CustomersRecord"]

    assert list(record["properties"])[:3] == ["id", "created_at", "updated_at"]
    assert record["properties"]["created_at"] == {"type": "string", "format": "date-time", "readOnly": True}
    assert record["additionalProperties"] is False
    assert "required" not in record  # `fields` may narrow any record
    company, partners = record["properties"]["company"], record["properties"]["partners"]
    assert company["anyOf"] == [{"type": "string", "nullable": True}, COMPANY_REF]
    assert partners["type"] == "array"
    assert partners["items"] == {"anyOf": [{"type": "string"}, COMPANY_REF]}


def test_the_input_component_has_the_write_rules(key_client, customers):
    schemas = fetch(key_client)["components"]["schemas"]
    body, patch = schemas["CustomersInput"], schemas["PatchedCustomersInput"]

    assert body["required"] == ["name"]  # `status` is required by nobody: it has a default
    assert body["additionalProperties"] is False and patch["additionalProperties"] is False
    assert "required" not in patch
    assert not {"id", "created_at", "updated_at"} & set(body["properties"])
    props = body["properties"]
    assert props["name"] == {"type": "string", "maxLength": 200, "minLength": 1, "pattern": "^[^\\x00]*$"}
    assert props["visits"] == {"type": "integer", "format": "int64", "minimum": 0, "maximum": 1000,
                               "nullable": True}
    assert props["status"] == {"type": "string", "enum": ["active", "inactive", None], "nullable": True,
                               "default": "active"}
    # Relations name their model: their values must be its ids (the schemathesis hooks use it).
    assert props["company"] == {"type": "string", "pattern": "^[^\\x00]*$", "x-related-model": "companies",
                                "nullable": True}
    assert props["partners"] == {"type": "array", "items": {"type": "string", "pattern": "^[^\\x00]*$"},
                                 "x-related-model": "companies", "nullable": True}
    # A json value holds no U+0000 (jsonb cannot): `JsonValue` says so to any depth.
    assert props["meta"]["allOf"] == [{"$ref": "#/components/schemas/JsonValue"}] and props["meta"]["nullable"]
    assert {"type": "string", "pattern": "^[^\\x00]*$"} in schemas["JsonValue"]["anyOf"]


def test_list_and_single_responses_and_pagination(key_client, customers):
    document = fetch(key_client)
    schemas, paths = document["components"]["schemas"], document["paths"]

    listed = paths[CUSTOMERS]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"$ref": "#/components/schemas/CustomersList"}
    assert schemas["CustomersList"]["properties"]["data"]["items"] == {"$ref": "#/components/schemas/CustomersRecord"}
    assert set(schemas["Pagination"]["properties"]) == {"page", "limit", "total", "pages", "next_cursor"}
    assert schemas["Pagination"]["required"] == ["limit", "next_cursor"]  # cursor pages leave out the rest
    single = paths[CUSTOMERS + "/{id}"]["get"]["responses"]["200"]
    assert single["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CustomersResponse"}
    assert "ETag" in single["headers"]
    deleted = paths[CUSTOMERS + "/{id}"]["delete"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schemas[deleted["$ref"].rsplit("/", 1)[1]]["required"] == ["success", "message"]


def test_every_error_status_answers_with_the_envelope(key_client, customers):
    document = fetch(key_client)
    responses = document["components"]["responses"]
    envelope = document["components"]["schemas"]["Error"]["properties"]["error"]

    assert envelope["required"] == ["code", "message", "request_id"]
    assert set(envelope["properties"]) == {"code", "message", "details", "request_id"}
    for path, method, operation in operations(document):
        if path == "/api/health":
            continue
        errors = {status: ref for status, ref in operation["responses"].items() if status[0] in "45"}
        assert {"429", "500"} <= set(errors), (method, path)
        if path.startswith("/api/public/data/"):
            assert {"401", "403", "404"} <= set(errors), (method, path)
        for ref in errors.values():
            name = ref["$ref"].rsplit("/", 1)[1]
            assert responses[name]["content"]["application/json"]["schema"] == ERROR_REF
    assert {"400", "409", "413", "415"} <= set(document["paths"][CUSTOMERS]["post"]["responses"])
    assert "412" in document["paths"][CUSTOMERS + "/{id}"]["patch"]["responses"]


def test_conditional_headers_take_any_list_of_tags(key_client, customers):
    """Found by schemathesis: an empty `If-Match` was schema-invalid, yet (RFC 9110: an empty list) a 412."""
    paths = fetch(key_client)["paths"]

    for method in ("put", "patch", "delete"):
        headers = {p["name"]: p for p in paths[CUSTOMERS + "/{id}"][method]["parameters"] if p["in"] == "header"}
        assert headers["If-Match"]["schema"] == {"type": "string"}, method
        assert "412" in paths[CUSTOMERS + "/{id}"][method]["responses"], method
    get = {p["name"]: p for p in paths[CUSTOMERS + "/{id}"]["get"]["parameters"]}
    assert get["If-None-Match"]["schema"] == {"type": "string"}


def test_created_and_read_records_link_to_the_operations_on_them(key_client, customers):
    paths = fetch(key_client)["paths"]

    created = paths[CUSTOMERS]["post"]["responses"]["201"]["links"]
    assert created["GetRecord"] == {"operationId": "customers_retrieve",
                                    "parameters": {"id": "$response.body#/data/id"}}
    assert created["UpdateRecord"] == {"operationId": "customers_partial_update", "parameters": {
        "id": "$response.body#/data/id", "header.If-Match": "$response.header.ETag"}}
    read = paths[CUSTOMERS + "/{id}"]["get"]["responses"]["200"]["links"]
    assert sorted(read) == ["DeleteRecord", "ReplaceRecord", "UpdateRecord"]
    assert read["DeleteRecord"]["parameters"]["id"] == "$request.path.id"


@pytest.mark.parametrize(("value", "valid"), [
    ("name:~acme", True), ("name:Ann", True), ("name:>=B", True), ("name:null", True), ("email:!=null", True),
    ("visits:>=10", True), ("visits:ten", False), ("visits:~1", False), ("total:<-1.5e3", True),
    ("vip:true", True), ("vip:>true", False), ("born:>=2024-01-28", True), ("born:2024-13-01", False),
    ("seen_at:<2024-01-01T00:00:00Z", True), ("created_at:>=2024-01-01", True), ("status:active", True),
    ("status:gone", False), ("status:~act", True), ("tags:a", True), ("tags:c", False), ("meta:null", True),
    ("meta:x", False), ("embedding:!=null", True), ("company:rec_1", True), ("company:>rec_1", False),
    ("company.name:~acme", True), ("partners.id:rec_1", True), ("id:rec_1", True), ("id:~rec", False),
    ("email:ann@example.com", True), ("email:ann", False), ("website:~example", True), ("nope:1", False),
    ("00", False), ("name", False), ("name:a\x00", False),
])
def test_the_filter_pattern_allows_what_the_server_accepts(key_client, customers, value, valid):
    """Found by schemathesis: any non-empty string was a valid filter, and `00` is a 400."""
    params = {p["name"]: p for p in fetch(key_client)["paths"][CUSTOMERS]["get"]["parameters"]}
    pattern = params["filter"]["schema"]["items"]["pattern"]

    assert bool(re.search(pattern, value)) is valid
    assert key_client.get(CUSTOMERS, {"filter": value}).status_code == (200 if valid else 400)


def test_the_cursor_pattern_is_a_signed_cursor_or_empty(key_client, customers):
    """Found by schemathesis: any string was a valid cursor; only one the server signed is accepted."""
    params = {p["name"]: p for p in fetch(key_client)["paths"][CUSTOMERS]["get"]["parameters"]}
    pattern = params["cursor"]["schema"]["pattern"]
    for name in ("Ann", "Bob"):
        key_client.post(CUSTOMERS, {"name": name}, format="json")
    cursor = key_client.get(CUSTOMERS, {"limit": 1}).json()["pagination"]["next_cursor"]

    assert re.search(pattern, cursor) and re.search(pattern, "")
    assert not re.search(pattern, "lorem ipsum")
    assert key_client.get(CUSTOMERS, {"cursor": cursor}).status_code == 200
    assert key_client.get(CUSTOMERS, {"cursor": ""}).status_code == 200
    assert key_client.get(CUSTOMERS, {"cursor": "lorem ipsum"}).status_code == 400


def test_list_parameters_are_documented(key_client, customers):
    operation = fetch(key_client)["paths"][CUSTOMERS]["get"]
    params = {param["name"]: param for param in operation["parameters"]}

    assert set(params) == {"page", "limit", "sort", "filter", "fields", "include", "cursor"}
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 100)
    assert params["filter"]["explode"] is True and params["sort"]["explode"] is True
    assert params["fields"]["explode"] is False
    assert ":>=" in params["filter"]["description"] and "company.name:~acme" in params["filter"]["description"]
    assert "`total` (`:` `:!=` `:>` `:>=` `:<` `:<=`)" in params["filter"]["description"]
    assert {"total:desc", "created_at", "id:asc"} <= set(params["sort"]["schema"]["items"]["enum"])
    assert "tags" not in params["sort"]["schema"]["items"]["enum"]  # multi_select cannot sort
    assert "embedding" in params["fields"]["schema"]["items"]["enum"]
    assert params["include"]["schema"]["items"]["enum"] == ["company", "partners", ""]  # empty: skipped
    assert "" in params["fields"]["schema"]["items"]["enum"] and "" in params["sort"]["schema"]["items"]["enum"]
    assert key_client.get(CUSTOMERS, {"fields": "", "include": "", "sort": ""}).status_code == 200


def test_security_schemes_and_health(key_client, customers):
    document = fetch(key_client)

    assert document["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key"
    }
    assert document["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    assert document["paths"][CUSTOMERS]["post"]["security"] == [{"ApiKeyAuth": []}, {"jwtAuth": []}]
    health = document["paths"]["/api/health"]["get"]
    assert health["security"] == []
    assert set(health["responses"]) == {"200", "503"}


def test_anonymous_callers_get_the_skeleton_without_data_models(client_api, customers):
    document = fetch(client_api)

    assert not [path for path in document["paths"] if path.startswith("/api/public/data/")]
    assert "/api/health" in document["paths"]
    assert "ApiKeyAuth" in document["components"]["securitySchemes"]
    assert not [name for name in document["components"]["schemas"] if name.startswith("Customers")]


def test_a_key_limited_to_some_models_sees_only_those(client_api, make_api_key, customers):
    _, raw = make_api_key(models=["customers"])
    document = fetch(client_api, HTTP_X_API_KEY=raw)

    assert sorted(path for path in document["paths"] if path.startswith("/api/public/data/")) == [
        CUSTOMERS, CUSTOMERS + "/search", CUSTOMERS + "/{id}", CUSTOMERS + "/{id}/similar"
    ]
    schemas = document["components"]["schemas"]
    assert not [name for name in schemas if name.startswith("Companies")]
    # Relations to a model the caller cannot read stay plain ids, and cannot be included.
    assert schemas["CustomersRecord"]["properties"]["company"] == {"type": "string", "nullable": True}
    params = document["paths"][CUSTOMERS]["get"]["parameters"]
    assert "include" not in [param["name"] for param in params]
    validate_schema(document)


def test_a_user_without_model_permissions_sees_no_models(client_api, make_api_key, django_user_model, customers):
    user = django_user_model.objects.create_user("ann", "ann@example.com")
    _, raw = make_api_key(user=user)

    document = fetch(client_api, HTTP_X_API_KEY=raw)

    assert not [path for path in document["paths"] if path.startswith("/api/public/data/")]


def test_a_bad_key_is_refused_with_the_envelope(client_api, customers):
    response = client_api.get(SCHEMA, HTTP_X_API_KEY="inf_nope")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


@modify_settings(INSTALLED_APPS={"append": "drf_spectacular_sidecar"})
def test_the_docs_page_loads_swagger_ui_from_local_static_files(client_api):
    response = client_api.get(DOCS)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "SwaggerUIBundle" in html and '"/api/schema"' in html
    assert not re.search(r"(https?:)?//[\w.-]+\.\w+/", html), "the page must not load anything from the internet"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 4  # favicon, css, bundle, preset
    for url in assets:
        assert url.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/")
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file of ours"


def test_another_app_documents_its_per_model_routes_with_the_shared_errors(key_client, customers):
    """How another app (search, say) adds `/api/public/data/{model}/...` operations: a builder per model."""
    from datamodels.api import openapi
    from infinity.openapi import error_refs

    def probe_paths(entry, schema, names):
        return {f"/api/public/data/{entry.name}/probe": {"get": {
            "operationId": f"{entry.name}_probe", "security": openapi.SECURITY,
            "responses": {"200": {"description": "Hits."}, **error_refs(400, 401, 403, 404, 429, 500)}}}}

    openapi.register_model_paths(probe_paths)
    try:
        document = fetch(key_client)
    finally:
        openapi.MODEL_PATH_BUILDERS.remove(probe_paths)

    responses = document["paths"][CUSTOMERS + "/probe"]["get"]["responses"]
    assert responses["403"] == {"$ref": "#/components/responses/Forbidden"}
    assert sorted(responses) == ["200", "400", "401", "403", "404", "429", "500"]
    assert "/api/public/data/companies/probe" in document["paths"]
    validate_schema(document)
    assert CUSTOMERS + "/probe" not in fetch(key_client)["paths"]


def test_a_patch_needs_a_body(key_client, customers):
    """Found by schemathesis: a PATCH without a body was optional in the document, and changed nothing."""
    document = fetch(key_client)
    created = key_client.post(CUSTOMERS, {"name": "Ann"}, format="json").json()["data"]

    response = key_client.patch(f"{CUSTOMERS}/{created['id']}")

    assert document["paths"][CUSTOMERS + "/{id}"]["patch"]["requestBody"]["required"] is True
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "A PATCH needs a body: a JSON object of the fields to change"
    assert key_client.patch(f"{CUSTOMERS}/{created['id']}", {}, format="json").status_code == 200
