"""The admin's middleware (sessions, CSRF, the session user, messages) stays off the API's path."""

from django.test import Client


def test_api_requests_skip_the_admins_middleware(key_client):
    response = key_client.get("/api/auth/me")

    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert "CSRF_COOKIE" not in request.META
    assert "Cookie" not in response.get("Vary", "") and not response.cookies


def test_a_session_cookie_is_no_credential_for_the_api(admin_client):
    assert admin_client.get("/admin/").status_code == 200  # logged in through a session

    response = admin_client.get("/api/auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_the_admin_keeps_its_session_csrf_and_messages(superuser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    page = client.get("/admin/")
    refused = client.post("/admin/logout/")  # no CSRF token

    assert page.status_code == 200 and hasattr(page.wsgi_request, "session")
    assert hasattr(page.wsgi_request, "_messages")
    assert refused.status_code == 403
