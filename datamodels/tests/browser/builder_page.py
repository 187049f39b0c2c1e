"""A page object for the model builder (a data model's add/change page), driven as a user does.

Rows are the field forms of the page, by index (`fields-<n>`, in the order shown).
Everything is done with real clicks and typing: a type-specific option in a collapsed
group is filled only after its group is open (opening it by its summary if the page
has not), and saving clicks the real submit button and waits for the next page.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page

CHECKBOXES = {"required", "unique", "indexed", "many", "force", "DELETE"}
SELECTS = {"type", "related_model"}


class BuilderPage:
    """The add/change page of a data model, its field rows and what it answers."""

    def __init__(self, page: Page):
        self.page = page

    # --- going there ---------------------------------------------------------------------
    def open_add(self) -> BuilderPage:
        self.page.goto(f"{self.page.base_url}/admin/datamodels/datamodel/add/")
        return self

    def open_change(self, data_model) -> BuilderPage:
        self.page.goto(f"{self.page.base_url}/admin/datamodels/datamodel/{data_model.pk}/change/")
        return self

    # --- rows ----------------------------------------------------------------------------
    def row(self, index: int) -> Locator:
        return self.page.locator(f"#fields-{index}")

    def rows(self) -> Locator:
        return self.page.locator("#fields-group .inline-related:not(.empty-form)")

    def index_of(self, name: str) -> int:
        """The row whose name box holds `name`."""
        names = self.rows().locator('input[name$="-name"]')
        for position in range(names.count()):
            if names.nth(position).input_value() == name:
                return position
        raise AssertionError(f"no row named {name!r}")

    def input(self, index: int, attr: str) -> Locator:
        return self.page.locator(f"#id_fields-{index}-{attr}")

    def add_row(self) -> int:
        """Click "Add another Field"; the new row's index."""
        index = self.rows().count()
        self.page.get_by_role("button", name="Add another Field").click()
        self.row(index).wait_for()
        return index

    def set(self, index: int, **values) -> BuilderPage:
        """Type, pick or tick each value into the row (`related_model` is picked by label)."""
        for attr, value in values.items():
            box = self.input(index, attr)
            if not box.is_visible():
                self.open_group(index, attr)
            if attr in CHECKBOXES:
                box.set_checked(value)
            elif attr == "related_model":
                box.select_option(label=value)
            elif attr in SELECTS:
                box.select_option(value)
            else:
                box.fill(str(value))
        return self

    def open_group(self, index: int, attr: str) -> None:
        """Open the collapsed group that holds the option, by clicking its summary."""
        self.row(index).locator(f"fieldset:has(#id_fields-{index}-{attr}) summary").click()

    # --- saving and what the page says -----------------------------------------------------
    def save(self, button: str = "Save and continue editing") -> BuilderPage:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button, exact=True).click()
        return self

    def messages(self) -> list[str]:
        return self.page.locator("ul.messagelist li").all_inner_texts()

    def error_note(self) -> str | None:
        note = self.page.locator("p.errornote")
        return note.inner_text().strip() if note.count() else None

    def row_errors(self, index: int) -> list[str]:
        return self.row(index).locator("ul.errorlist li").all_inner_texts()

    def all_row_errors(self) -> dict[int, list[str]]:
        """Errors by row index, for the rows that have any."""
        errors = {index: self.row_errors(index) for index in range(self.rows().count())}
        return {index: found for index, found in errors.items() if found}
