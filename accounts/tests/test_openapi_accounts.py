"""The accounts endpoints in `/api/schema`: bodies, responses, errors and security, and answers that fit them.

The document is fetched over HTTP, as a client sees it. The last test runs
`schemathesis run --checks all` over the `/api/auth/` operations with an access
token against the production server, so every answer (success or error) must have
a documented status and shape, and every request the document allows is accepted.
"""

from __future__ import annotations

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from accounts.models import SCOPES, ApiKey
from accounts.services import apikey_create
from accounts.users import tokens_for
from datamodels.models import SchemaState
from datamodels.tests.api_schema.schemathesis_run import production_server, schemathesis

from .conftest import bearer, error

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema"
SCHEMAS = "#/components/schemas/"
ANONYMOUS = [{}]
EITHER = [{"ApiKeyAuth": []}, {"jwtAuth": []}]

# (path, method, operationId, request body component, success status, its component, error statuses, security)
OPERATIONS = [
    ("/api/auth/signup", "post", "auth_signup", "SignupRequest", "201", "Session",
     ["400", "409", "413", "415", "429", "500"], ANONYMOUS),
    ("/api/auth/login", "post", "auth_login", "LoginRequest", "200", "Session",
     ["400", "401", "413", "415", "429", "500"], ANONYMOUS),
    ("/api/auth/refresh", "post", "auth_refresh", "RefreshRequest", "200", "TokenPair",
     ["400", "401", "413", "415", "429", "500"], ANONYMOUS),
    ("/api/auth/logout", "post", "auth_logout", "RefreshRequest", "200", "LogoutResponse",
     ["400", "401", "413", "415", "429", "500"], ANONYMOUS),
    ("/api/auth/me", "get", "auth_me", None, "200", "UserResponse", ["401", "429", "500"], EITHER),
    ("/api/auth/keys", "get", "auth_keys_list", None, "200", "ApiKeyList", ["401", "403", "429", "500"], EITHER),
    ("/api/auth/keys", "post", "auth_keys_create", "ApiKeyCreateRequest", "201", "ApiKeyCreated",
     ["400", "401", "403", "413", "415", "429", "500"], EITHER),
    ("/api/auth/keys/{prefix}", "delete", "auth_keys_revoke", None, "200", "ApiKeyRevoked",
     ["401", "403", "404", "429", "500"], EITHER),
]
IDS = [operation_id for _, _, operation_id, *_ in OPERATIONS]
ERROR_RESPONSES = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
                   "409": "Conflict", "413": "PayloadTooLarge", "415": "UnsupportedMediaType", "429": "RateLimited",
                   "500": "ServerError"}


@pytest.fixture
def document(client_api) -> dict:
    """The schema as an anonymous caller gets it: the accounts API is in it for everyone."""
    response = client_api.get(SCHEMA)
    assert response.status_code == 200
    return response.json()


def component(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]


def ref(name: str) -> dict:
    return {"$ref": SCHEMAS + name}


def test_the_document_with_the_accounts_api_is_valid_openapi_3(document):
    validate_schema(document)
    assert {path for path in document["paths"] if path.startswith("/api/auth/")} == {
        path for path, *_ in OPERATIONS
    }


@pytest.mark.parametrize(("path", "method", "operation_id", "body", "status", "answer", "errors", "security"),
                         OPERATIONS, ids=IDS)
def test_each_operation_documents_its_body_answers_and_errors(
    document, path, method, operation_id, body, status, answer, errors, security
):
    operation = document["paths"][path][method]

    assert operation["operationId"] == operation_id
    assert operation["summary"] and operation["description"] and operation["tags"] == ["auth"]
    assert operation["security"] == security
    if body is None:
        assert "requestBody" not in operation
    else:
        assert operation["requestBody"] == {"content": {"application/json": {"schema": ref(body)}}, "required": True}
    assert list(operation["responses"]) == [status, *errors]
    success = operation["responses"][status]
    assert success["content"]["application/json"]["schema"] == ref(answer)
    assert success["description"]
    for code in errors:
        assert operation["responses"][code] == {"$ref": f"#/components/responses/{ERROR_RESPONSES[code]}"}, code


def test_error_responses_are_the_envelope(document):
    for name in ERROR_RESPONSES.values():
        assert document["components"]["responses"][name]["content"]["application/json"]["schema"] == ref("Error")
    assert "Retry-After" in document["components"]["responses"]["RateLimited"]["headers"]


def test_both_security_schemes_are_declared(document):
    assert document["components"]["securitySchemes"] == {
        "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    }


@pytest.mark.parametrize(("name", "properties", "required"), [
    ("SignupRequest", ["email", "password", "name"], ["email", "password"]),
    ("LoginRequest", ["email", "password"], ["email", "password"]),
    ("RefreshRequest", ["refresh"], ["refresh"]),
    ("ApiKeyCreateRequest", ["name", "scopes", "models", "rate_limit", "expires_days"], ["name"]),
])
def test_request_bodies_name_their_fields(document, name, properties, required):
    schema = component(document, name)

    assert list(schema["properties"]) == properties
    assert schema["required"] == required


def test_request_bodies_carry_the_limits_the_services_enforce(document):
    signup, key = component(document, "SignupRequest"), component(document, "ApiKeyCreateRequest")

    assert signup["properties"]["email"]["format"] == "email"
    assert signup["properties"]["email"]["maxLength"] == 150
    assert signup["properties"]["name"]["nullable"] is True
    assert key["properties"]["name"]["maxLength"] == 100
    assert key["properties"]["scopes"]["items"] == ref("ScopesEnum")
    assert component(document, "ScopesEnum")["enum"] == list(SCOPES)
    assert key["properties"]["scopes"]["minItems"] == 1
    assert (key["properties"]["expires_days"]["minimum"], key["properties"]["expires_days"]["maximum"]) == (1, 36500)
    assert "100/m,5000/d" in key["properties"]["rate_limit"]["description"]


def test_required_strings_are_not_empty_and_carry_the_services_rules(document):
    """Found by schemathesis: `""` was schema-valid, and refused as missing."""
    signup, login = component(document, "SignupRequest"), component(document, "LoginRequest")
    refresh, key = component(document, "RefreshRequest"), component(document, "ApiKeyCreateRequest")

    assert login["properties"]["email"]["minLength"] == login["properties"]["password"]["minLength"] == 1
    assert refresh["properties"]["refresh"]["minLength"] == 1
    assert signup["properties"]["password"]["minLength"] == 8
    assert signup["properties"]["password"]["pattern"] == "\\D"  # not only digits
    assert key["properties"]["name"]["pattern"] == "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"  # not blank
    assert key["properties"]["rate_limit"]["oneOf"][0]["pattern"].startswith("^\\s*(?:(?:[1-9][0-9]{0,8}/s|")


def test_a_keys_models_are_the_callers_model_names(client_api, superuser, companies):
    client_api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(superuser)['access']}")
    mine = client_api.get(SCHEMA).json()
    anonymous = APIClient().get(SCHEMA).json()

    assert component(mine, "ApiKeyCreateRequest")["properties"]["models"]["items"]["enum"] == ["companies"]
    assert component(anonymous, "ApiKeyCreateRequest")["properties"]["models"]["items"]["not"] == {}


def test_an_api_key_on_the_key_endpoints_is_the_documented_403(superuser, make_api_key, document):
    """Found by schemathesis: the document promised 401; a valid key without the right is 403 (SPEC §4)."""
    _, raw = make_api_key()

    response = APIClient().get("/api/auth/keys", HTTP_X_API_KEY=raw)

    assert response.status_code == 403
    assert response.json() == error(response, "FORBIDDEN",
                                    "API keys cannot manage API keys: log in and use an access token")
    assert "403" in document["paths"]["/api/auth/keys"]["get"]["responses"]
    assert {"ApiKeyAuth": []} in document["paths"]["/api/auth/keys"]["get"]["security"]


def test_answers_have_the_shapes_the_views_return(document):
    session, user = component(document, "Session"), component(document, "User")
    key, new_key = component(document, "ApiKey"), component(document, "NewApiKey")

    assert sorted(session["required"]) == ["access", "refresh", "user"]
    assert session["properties"]["user"]["allOf"] == [ref("User")]
    assert sorted(user["properties"]) == ["email", "id", "is_staff", "name"]
    assert sorted(component(document, "TokenPair")["properties"]) == ["access", "refresh"]
    assert component(document, "UserResponse")["properties"]["data"]["allOf"] == [ref("User")]
    assert component(document, "ApiKeyList")["properties"]["data"]["items"] == ref("ApiKey")
    assert component(document, "ApiKeyCreated")["properties"]["data"]["allOf"] == [ref("NewApiKey")]
    assert set(new_key["properties"]) == set(key["properties"]) | {"key"}
    assert "key" not in key["properties"] and "key_hash" not in key["properties"]
    for name in ("expires_at", "revoked_at", "last_used_at"):
        assert key["properties"][name]["nullable"] is True, name
    assert sorted(component(document, "ApiKeyRevoked")["required"]) == ["message", "success"]
    assert component(document, "LogoutResponse")["required"] == ["success"]


def test_documented_shapes_match_real_answers(client_api, django_user_model, document):
    """One real signup and key creation, checked against the documented components."""
    signup = client_api.post("/api/auth/signup", {"email": "ann@example.com", "password": "a long passphrase"},
                             format="json")
    client_api.credentials(HTTP_AUTHORIZATION=f"Bearer {signup.json()['access']}")
    created = client_api.post("/api/auth/keys", {"name": "ci", "scopes": ["read"]}, format="json")

    assert signup.status_code == 201 and created.status_code == 201
    assert set(signup.json()) == set(component(document, "Session")["properties"])
    assert set(signup.json()["user"]) == set(component(document, "User")["properties"])
    assert set(created.json()["data"]) == set(component(document, "NewApiKey")["properties"])


def test_a_prefix_holding_nul_is_an_unknown_key_as_documented(superuser, make_api_key):
    """Found by fuzzing: PostgreSQL refused to compare it, and the DELETE answered an undocumented 400."""
    make_api_key()

    response = bearer(superuser).delete("/api/auth/keys/inf_%00")

    assert response.status_code == 404
    assert response.json() == error(response, "NOT_FOUND", "No such API key")
    assert superuser.api_keys.get().revoked_at is None


# --- schemathesis -------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_in_the_accounts_api_with_an_access_token(database_url, superuser, tmp_path,
                                                                              _schema_state_after_flush):
    """The key endpoints refuse API keys (403), so the whole-API run cannot reach them: this one can."""
    SchemaState.objects.get_or_create(pk=1, defaults={"version": 1})
    kept = apikey_create(user=superuser, name="to revoke")[0]
    token = tokens_for(superuser)["access"]

    with production_server(database_url, tmp_path / "uwsgi.log") as url:
        report = schemathesis(url, tmp_path, "--header", f"Authorization: Bearer {token}",
                              "--include-path-regex", "^/api/auth/")

    assert report["failures"] == [] and report["errors"] == []
    assert report["operations"]["selected"] == report["operations"]["tested"] == len(OPERATIONS)
    for label in ("GET /api/auth/keys", "POST /api/auth/keys", "POST /api/auth/signup", "GET /api/auth/me"):
        assert sum(rate["accepted"] for rate in report["valid_rates"][label].values()) > 0, label
    # Keys made by the run belong to the superuser, and the one made here is still there.
    assert ApiKey.objects.filter(pk=kept.pk).exists()
    assert set(ApiKey.objects.values_list("user", flat=True)) == {superuser.pk}


@pytest.mark.parametrize("field", ["models", "scopes"])
def test_a_json_object_for_a_keys_list_is_refused(superuser, field):
    """Found by schemathesis: `"models": {}` was read as its (no) keys, and a key was made."""
    response = bearer(superuser).post("/api/auth/keys", {"name": "ci", field: {"read": 1}}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not superuser.api_keys.exists()
