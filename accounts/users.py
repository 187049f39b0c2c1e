"""User services: sign up, log in, refresh and log out with JWTs (djangorestframework-simplejwt).

Users log in by email (stored lower-case, also as the username). Refresh tokens rotate
on every refresh and the old one is blacklisted, as is the one given to logout.
"""

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from infinity.exceptions import Conflict, Unauthorized, ValidationFailed

MAX_NAME = 150
# Compared against when no user has the email, so both failures take the same time.
_DUMMY_PASSWORD_HASH = "pbkdf2_sha256$1000000$dummy$dummy="


def tokens_for(user) -> dict:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _signup_errors(email, password, name) -> list[dict]:
    errors = []
    if not isinstance(email, str) or not email:
        errors.append({"field": "email", "message": "This field is required"})
    elif len(email.strip()) > _max_email_length():
        errors.append({"field": "email", "message": f"Must be at most {_max_email_length()} characters"})
    else:
        try:
            validate_email(email.strip())
        except DjangoValidationError:
            errors.append({"field": "email", "message": "Must be a valid email address"})
    if not isinstance(password, str) or not password:
        errors.append({"field": "password", "message": "This field is required"})
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        errors.append({"field": "name", "message": f"Must be a string of at most {MAX_NAME} characters"})
    elif isinstance(name, str) and "\x00" in name:
        errors.append({"field": "name", "message": "Must not contain NUL characters"})
    return errors


def _max_email_length() -> int:
    # The email is the username too, whose column is the shorter of the two.
    fields = get_user_model()._meta
    return min(fields.get_field("username").max_length, fields.get_field("email").max_length)


def user_signup(*, email, password, name=None):
    """Create a user (no model permissions until granted) and return it."""
    _raise(_signup_errors(email, password, name))
    email = email.strip().lower()
    User = get_user_model()
    candidate = User(username=email, email=email, first_name=(name or "").strip())
    try:
        # Checked without the username (a copy of the email), so a password like the
        # email is refused as "too similar to the email address", which users recognise.
        password_validation.validate_password(password, user=User(email=email, first_name=candidate.first_name))
    except DjangoValidationError as exc:
        _raise([{"field": "password", "message": " ".join(exc.messages)}])
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this email already exists")
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise Conflict("An account with this email already exists") from None
    return candidate


def user_login(*, email, password):
    """The active user with this email and password, or `Unauthorized`."""
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        _raise([{"field": f, "message": "This field is required"}
                for f, v in (("email", email), ("password", password)) if not isinstance(v, str) or not v])
    # PostgreSQL cannot compare text holding NUL; no stored email has one.
    user = None if "\x00" in email else (
        get_user_model().objects.filter(email__iexact=email.strip()).order_by("pk").first()
    )
    if user is None:
        from django.contrib.auth.hashers import check_password

        check_password(password, _DUMMY_PASSWORD_HASH)
        raise Unauthorized("Invalid email or password")
    if not user.check_password(password) or not user.is_active:
        raise Unauthorized("Invalid email or password")
    return user


def token_refresh(*, refresh) -> dict:
    """A new access token and a rotated refresh token; the old refresh token dies."""
    serializer = TokenRefreshSerializer(data={"refresh": _token_text(refresh)})
    try:
        serializer.is_valid(raise_exception=True)
    except (TokenError, AuthenticationFailed, DRFValidationError):
        raise Unauthorized("Invalid or expired refresh token") from None
    return {"access": serializer.validated_data["access"], "refresh": serializer.validated_data["refresh"]}


def token_logout(*, refresh) -> None:
    """Blacklist a refresh token so it can never be used again."""
    try:
        RefreshToken(_token_text(refresh)).blacklist()
    except TokenError:
        raise Unauthorized("Invalid or expired refresh token") from None


def _token_text(refresh) -> str:
    if not isinstance(refresh, str) or not refresh:
        _raise([{"field": "refresh", "message": "This field is required"}])
    return refresh


def _raise(errors: list[dict]) -> None:
    if errors:
        raise ValidationFailed("Invalid field value", details=errors)
