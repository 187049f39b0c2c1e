"""The accounts endpoints in `/api/schema`: bodies, responses, errors and security, and answers that fit them.

The document is fetched over HTTP, as a client sees it. The last test runs
schemathesis over the `/api/auth/` operations against a live server, so every
answer (success or error) must have a documented status and shape.
"""

from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.validation import validate_schema
from hypothesis import strategies as st

from accounts.models import SCOPES
from accounts.users import tokens_for
from datamodels.models import SchemaState
from datamodels.tests.api_schema.test_fuzz import fuzz

from .conftest import bearer, error

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema"
SCHEMAS = "#/components/schemas/"
ANONYMOUS = [{}]
EITHER = [{"ApiKeyAuth": []}, {"jwtAuth": []}]
JWT = [{"jwtAuth": []}]
UNLIMITED = "100000000/m"

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
    ("/api/auth/keys", "get", "auth_keys_list", None, "200", "ApiKeyList", ["401", "403", "429", "500"], JWT),
    ("/api/auth/keys", "post", "auth_keys_create", "ApiKeyCreateRequest", "201", "ApiKeyCreated",
     ["400", "401", "403", "413", "415", "429", "500"], JWT),
    ("/api/auth/keys/{prefix}", "delete", "auth_keys_revoke", None, "200", "ApiKeyRevoked",
     ["401", "403", "404", "429", "500"], JWT),
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


# --- fuzzing -----------------------------------------------------------------------

def point_at_live_tokens(schema, user) -> None:
    """Let some generated refresh tokens and key prefixes be real ones, so successes are checked too."""

    @schema.hook
    def map_body(context, body):
        if isinstance(body, dict) and isinstance(body.get("refresh"), str) and len(body["refresh"]) % 2 == 0:
            body["refresh"] = tokens_for(user)["refresh"]
        return body

    @schema.hook
    def before_generate_path_parameters(context, strategy):
        prefix = user.api_keys.order_by("pk").values_list("prefix", flat=True).first()
        return st.one_of(strategy, st.sampled_from([{"prefix": prefix}, {"prefix": "inf_\x00"}]))


@pytest.mark.django_db(transaction=True)
def test_the_accounts_api_answers_as_its_schema_says(live_server, settings, superuser, make_api_key, subtests,
                                                     _schema_state_after_flush):
    SchemaState.objects.get_or_create(pk=1, defaults={"version": 1})
    # The live server runs in this process, so these limits apply to it: no 429 hides an answer.
    settings.INFINITY = {**settings.INFINITY, "RATE_LIMIT": UNLIMITED, "AUTH_RATE_LIMIT": UNLIMITED}
    make_api_key(name="to revoke")
    headers = {"Authorization": f"Bearer {tokens_for(superuser)['access']}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}{SCHEMA}", headers=headers, timeout=30)
    schema.config.update(headers=headers, request_timeout=30)
    schema.config.generation.update(with_security_parameters=False)
    point_at_live_tokens(schema, superuser)
    operations = [result.ok() for result in schema.include(path_regex=r"^/api/auth/").get_all_operations()]

    assert sorted(operation.label for operation in operations) == sorted(
        f"{method.upper()} {path}" for path, method, *_ in OPERATIONS
    )
    for operation in operations:
        with subtests.test(msg=operation.label):
            fuzz(operation)
