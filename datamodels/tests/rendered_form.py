"""What a browser submits from a rendered page's form, left untouched, for test-client tests.

Hand-written POST data posts what the test's author thinks a page sends; this reads the
page's own HTML instead, as a browser does: text, number and hidden inputs with their
values, checkboxes only when ticked, a select's selected option (else its first),
textareas' text. Submit buttons are left out (a test adds the one it clicks).
"""

from __future__ import annotations

from html.parser import HTMLParser

SKIPPED_INPUTS = {"submit", "button", "image", "reset", "file"}


class _FormReader(HTMLParser):
    """Collects (name, value) pairs of the form with the given id."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input":
            self._input(attrs)
        elif tag == "select":
            self._select = {"name": attrs.get("name"), "multiple": "multiple" in attrs, "options": []}
        elif tag == "option" and self._select is not None:
            self._option = {"value": attrs.get("value"), "selected": "selected" in attrs, "text": ""}
            self._select["options"].append(self._option)
        elif tag == "textarea":
            self._textarea = {"name": attrs.get("name"), "text": ""}

    def _input(self, attrs: dict) -> None:
        kind, name = attrs.get("type", "text"), attrs.get("name")
        if not name or kind in SKIPPED_INPUTS:
            return
        if kind in ("checkbox", "radio"):
            if "checked" in attrs:
                self.pairs.append((name, attrs.get("value", "on")))
        else:
            self.pairs.append((name, attrs.get("value", "")))

    def handle_data(self, data):
        if self._option is not None:
            self._option["text"] += data
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "option":
            self._option = None
        elif tag == "textarea" and self._textarea is not None:
            # A browser drops the one newline that follows <textarea>.
            text = self._textarea["text"].removeprefix("\n")
            self.pairs.append((self._textarea["name"], text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            self._end_select(self._select)
            self._select = None

    def _end_select(self, select: dict) -> None:
        options = select["options"]
        chosen = [option for option in options if option["selected"]]
        if not chosen and options and not select["multiple"]:
            chosen = options[:1]
        for option in chosen:
            value = option["value"] if option["value"] is not None else option["text"].strip()
            self.pairs.append((select["name"], value))


def rendered_form_data(html: str, form_id: str) -> dict[str, str | list[str]]:
    """The POST data of the page's form `form_id` as rendered; names given twice map to lists."""
    reader = _FormReader(form_id)
    reader.feed(html)
    data: dict[str, str | list[str]] = {}
    for name, value in reader.pairs:
        if name in data:
            previous = data[name]
            data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[name] = value
    return data
