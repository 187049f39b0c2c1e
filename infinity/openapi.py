"""The error responses of `/api/schema`, shared by every app that documents an endpoint.

Every error answers with one envelope (`infinity.errors`), so every error status of
every operation is a `$ref` to one shared response whose body is the `Error` schema.
An endpoint declares which errors it can answer, and nothing else:

- a DRF view: `@extend_schema(responses={200: ..., **error_responses_for(403, 404)})`;
- an operation built by hand (a dict): `responses={"200": ..., **error_refs(403, 404)}`.

`complete_operation` (run on every operation by the postprocessing hook in
`datamodels.api.openapi`) turns the former into references and adds the statuses that
the machinery under every view can answer, whatever the view says:

- 429 and 500 always; 401 when the operation needs credentials (`security` is not `[]`
  or `[{}]`); 400, 413 and 415 when it takes a request body.

So a view names only what its own logic decides: 403 (a valid caller without the
right, SPEC §4), 404, 409, 412, a 400 for query parameters or path values it parses.
Links from a response to the operations that use what it returns (`response_links`)
let schemathesis' stateful phase chain real requests (create, then read or delete).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

# status → (name under components/responses, what it means)
ERRORS = {
    "400": ("BadRequest", "`BAD_REQUEST` (malformed JSON, body or cursor) or `VALIDATION_ERROR` (a value that "
                          "does not fit; `details` names each field or parameter)."),
    "401": ("Unauthorized", "`UNAUTHORIZED`: missing or invalid credentials."),
    "403": ("Forbidden", "`FORBIDDEN`: valid credentials without the scope or permission."),
    "404": ("NotFound", "`NOT_FOUND`: unknown model or record (a malformed id is simply not found)."),
    "405": ("MethodNotAllowed", "`METHOD_NOT_ALLOWED`."),
    "409": ("Conflict", "`CONFLICT`: a unique value is already used (bulk: `details[].index` names the item), "
                        "or an `Idempotency-Key` was reused with another body."),
    "412": ("PreconditionFailed", "`PRECONDITION_FAILED`: `If-Match` names no current ETag of the record (it "
                                  "changed since it was read, or the tag is not one the server gave)."),
    "413": ("PayloadTooLarge", "`PAYLOAD_TOO_LARGE`: the body is above the server's limit."),
    "415": ("UnsupportedMediaType", "`UNSUPPORTED_MEDIA_TYPE`: send `Content-Type: application/json`."),
    "429": ("RateLimited", "`RATE_LIMIT_EXCEEDED`: wait `Retry-After` seconds."),
    "500": ("ServerError", "`SERVER_ERROR`: no stack trace or SQL is ever returned."),
    "503": ("ServiceUnavailable", "`SERVICE_UNAVAILABLE`: a backend this call needs (the database, or the "
                                  "embedding backend of a search) is down or busy; try again after `Retry-After`."),
}
ALWAYS = ("429", "500")
WITH_CREDENTIALS = ("401",)
WITH_BODY = ("400", "413", "415")


def error_responses_for(*statuses: int) -> dict:
    """Error statuses for `extend_schema(responses=...)`; the hook makes each the shared envelope response."""
    return {status: OpenApiResponse(description=ERRORS[str(status)][1]) for status in statuses}


def error_refs(*statuses: int | str) -> dict:
    """Error statuses of an operation built by hand, as references to the shared responses."""
    return {str(status): {"$ref": f"#/components/responses/{ERRORS[str(status)][0]}"} for status in statuses}


def complete_error_responses(operation: dict) -> None:
    """Each declared error status as a reference to the shared response, plus those any view may answer."""
    responses = operation.setdefault("responses", {})
    declared = [status for status in responses if status in ERRORS and "content" not in responses[status]]
    implied = [*ALWAYS]
    if operation.get("security", [{}]) not in ([], [{}]):
        implied += WITH_CREDENTIALS
    if "requestBody" in operation:
        implied += WITH_BODY
    responses.update(error_refs(*declared, *(status for status in implied if status not in responses)))
    operation["responses"] = dict(sorted(responses.items()))


# (operationId, status) → OpenAPI links of that response, for the stateful phase of schemathesis and for
# clients; registered by the views that own the operations (drf-spectacular has no keyword for links).
_LINKS: dict[tuple[str, str], dict] = {}


def response_links(operation_id: str, status: int, **links: dict) -> None:
    """Declare links from a DRF view's response: `response_links("x_create", 201, Get=link("x_get", ...))`."""
    _LINKS[(operation_id, str(status))] = links


def link(operation_id: str, *, parameters: dict | None = None, body: dict | None = None) -> dict:
    """One OpenAPI link: runtime expressions (`$response.body#/id`) for the target's parameters or body."""
    target = {"operationId": operation_id}
    if parameters:
        target["parameters"] = parameters
    if body is not None:
        target["requestBody"] = body
    return target


def complete_operation(operation: dict) -> None:
    """The postprocessing step for every operation DRF views document: error responses, then links."""
    complete_error_responses(operation)
    for status, response in operation["responses"].items():
        links = _LINKS.get((operation.get("operationId"), status))
        if links and "$ref" not in response:
            response["links"] = links


def error_schemas() -> dict:
    """The `Error` envelope and its `ErrorDetail`, for components/schemas."""
    return {
        "ErrorDetail": {
            "type": "object",
            "description": "One problem: the field (or parameter) it concerns; `index` is the item of a bulk request.",
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "index": {"type": "integer"}},
            "required": ["field", "message"],
        },
        "Error": {
            "type": "object",
            "description": "The envelope of every error response.",
            "properties": {"error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "example": "VALIDATION_ERROR"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorDetail"}},
                    "request_id": {"type": "string", "description": "Equals the X-Request-ID response header."},
                },
                "required": ["code", "message", "request_id"],
            }},
            "required": ["error"],
        },
    }


def error_components() -> dict:
    """One response per error status, for components/responses."""
    responses = {}
    for name, description in ERRORS.values():
        responses[name] = {"description": description,
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses["RateLimited"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return responses
