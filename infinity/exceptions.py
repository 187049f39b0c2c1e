"""Domain exceptions: services raise these; `infinity.errors` maps them to the envelope once."""


class InfinityError(Exception):
    """Base of every error that reaches a client in the SPEC §5 envelope."""

    status = 400
    code = "BAD_REQUEST"
    default_message = "Bad request"

    def __init__(self, message: str | None = None, details: list | None = None):
        self.message = message or self.default_message
        self.details = details or []
        super().__init__(self.message)


class BadRequest(InfinityError):
    """Syntax the server cannot parse: malformed JSON, a malformed cursor."""


class ValidationFailed(InfinityError):
    """Parsed input with a bad value; `details` holds one entry per field."""

    code = "VALIDATION_ERROR"
    default_message = "Invalid field value"


class Unauthorized(InfinityError):
    status, code, default_message = 401, "UNAUTHORIZED", "Missing or invalid credentials"


class Forbidden(InfinityError):
    status, code, default_message = 403, "FORBIDDEN", "Insufficient permissions"


class NotFound(InfinityError):
    status, code, default_message = 404, "NOT_FOUND", "Not found"


class Conflict(InfinityError):
    status, code, default_message = 409, "CONFLICT", "Conflict"


class PreconditionFailed(InfinityError):
    status, code, default_message = 412, "PRECONDITION_FAILED", "The record has changed"


class SchemaError(InfinityError):
    """A data-model definition change that is invalid or would lose data."""

    code = "VALIDATION_ERROR"
    default_message = "Invalid schema change"
