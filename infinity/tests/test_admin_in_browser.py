"""The admin opens in a real Chromium: the login form works and the index lists the builder."""


def test_logging_in_shows_the_data_models_builder(admin_page, live_server):
    admin_page.goto(f"{live_server.url}/admin/")

    assert admin_page.locator("#site-name").inner_text() != ""
    assert admin_page.get_by_role("link", name="Data models").first.is_visible()
    assert admin_page.url == f"{live_server.url}/admin/"
