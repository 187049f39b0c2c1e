"""The records browser's record form: one form field per data-model field, checked by the record services.

`RecordForm` turns what a browser posts into the JSON-shaped dict that
`datamodels.records` validates for the API, and checks nothing itself that the
services check: typed numbers that do not parse, unknown choices and unknown ids
go through as they are, so the page shows the API's own message on the field.
Relations are picked with the admin's autocomplete widget (select2 over
`RecordAdmin`'s autocomplete view) instead of typed ids.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.urls import reverse

from .fieldtypes import field_type
from .forms import JsonInputField
from .models import Field

AUTOCOMPLETE_URL = "admin:datamodels_datamodel_records_autocomplete"


def title_field(entry) -> Field | None:
    """The field that names a record of `entry` in pickers and lists: its first text-like field."""
    return next((f for f in entry.fields if f.type in ("text", "email", "select")), None)


def record_label(entry, record) -> str:
    """`id — title` (or the id alone when the model has no title field or it is empty)."""
    title = title_field(entry)
    value = getattr(record, title.column) if title else None
    return f"{record.pk} — {value}" if value else record.pk


class TypedText(forms.CharField):
    """A number typed as text: parsed when it is one, otherwise passed on for the services to refuse."""

    def __init__(self, *, parse, **kwargs):
        self.parse = parse
        super().__init__(required=False, empty_value=None, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return self.parse(value)
        except ValueError:
            return value


def _parse_integer(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)  # "3.0" is an integer to the API too; "3.5" is refused there


class LooseChoiceField(forms.ChoiceField):
    """A select whose value the services check (with the API's message), not Django's choice check."""

    def to_python(self, value):
        return value if value not in self.empty_values else None

    def validate(self, value):
        pass


class LooseMultipleChoiceField(forms.MultipleChoiceField):
    """Checkboxes whose values the services check."""

    def validate(self, value):
        pass


class PrettyJsonField(JsonInputField):
    """JSON shown indented, so a whole value reads on the record page."""

    def prepare_value(self, value):
        if value is None or isinstance(value, forms.fields.InvalidJSONInput):
            return super().prepare_value(value)
        return json.dumps(value, ensure_ascii=False, indent=2)


def _text(widget=None) -> forms.Field:
    return forms.CharField(required=False, empty_value=None, strip=False, widget=widget)


FORM_FIELDS = {
    "text": lambda f: _text(forms.TextInput(attrs={"size": 60})),
    "long_text": lambda f: _text(forms.Textarea(attrs={"rows": 8, "cols": 80})),
    # Email and URL values are checked by the field type, with the API's messages.
    "email": lambda f: _text(forms.EmailInput(attrs={"size": 40})),
    "url": lambda f: _text(forms.URLInput(attrs={"size": 60})),
    "integer": lambda f: TypedText(parse=_parse_integer, widget=forms.TextInput(attrs={"inputmode": "numeric"})),
    "number": lambda f: TypedText(parse=float, widget=forms.TextInput(attrs={"inputmode": "decimal"})),
    "boolean": lambda f: forms.NullBooleanField(required=False),
    "date": lambda f: _text(forms.DateInput(attrs={"type": "date"})),
    # Typed as ISO 8601 like the API (a datetime-local picker would drop microseconds and the zone).
    "datetime": lambda f: _text(forms.TextInput(attrs={"size": 32, "placeholder": "2024-01-01T00:00:00Z"})),
    "select": lambda f: LooseChoiceField(required=False, choices=[("", "---------")] + [(c, c) for c in f.choices]),
    "multi_select": lambda f: LooseMultipleChoiceField(
        required=False, choices=[(c, c) for c in f.choices], widget=forms.CheckboxSelectMultiple
    ),
    "json": lambda f: PrettyJsonField(required=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 80})),
    "vector": lambda f: JsonInputField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=f"A list of {f.dimensions} numbers",
    ),
}
HELP = {"datetime": "ISO 8601; UTC unless an offset is given."}


class RecordAutocomplete(AutocompleteSelect):
    """The admin's select2 picker, asking the records browser's autocomplete view of the source model."""

    def __init__(self, field, admin_site, *, url: str, **kwargs):
        self.url = url
        super().__init__(field, admin_site, **kwargs)

    def get_url(self):
        return self.url


class RecordAutocompleteMultiple(AutocompleteSelectMultiple):
    """The same picker for a to-many relation."""

    def __init__(self, field, admin_site, *, url: str, **kwargs):
        self.url = url
        super().__init__(field, admin_site, **kwargs)

    def get_url(self):
        return self.url


class RelationChoice(forms.ModelChoiceField):
    """A to-one relation's target id; whether it exists is for the services to say ("No such record")."""

    def __init__(self, target, **kwargs):
        self.target = target
        super().__init__(queryset=target.model.objects.all(), required=False, to_field_name="id", **kwargs)

    def label_from_instance(self, obj):
        return record_label(self.target, obj)

    def to_python(self, value):
        return None if value in self.empty_values else str(value).strip()

    def validate(self, value):
        pass


class RelationChoices(forms.ModelMultipleChoiceField):
    """A to-many relation's target ids (checked by the services)."""

    def __init__(self, target, **kwargs):
        self.target = target
        super().__init__(queryset=target.model.objects.all(), required=False, to_field_name="id", **kwargs)

    def label_from_instance(self, obj):
        return record_label(self.target, obj)

    def clean(self, value):
        if isinstance(value, str):
            value = [value]
        return [str(item).strip() for item in value or [] if str(item).strip()]


def relation_form_field(field: Field, entry, schema, admin_site) -> forms.Field:
    """An autocomplete picker of the target's records (asked through the source model's records URL)."""
    target = schema.by_id[field.related_model_id]
    model_field = entry.model._meta.get_field(field.column)
    url = reverse(AUTOCOMPLETE_URL, args=[entry.definition.pk])
    if field.many:
        return RelationChoices(target, widget=RecordAutocompleteMultiple(model_field, admin_site, url=url))
    return RelationChoice(target, widget=RecordAutocomplete(model_field, admin_site, url=url))


def record_values(entry, record) -> dict:
    """A stored record's values as JSON-shaped data, keyed by field name."""
    values = {}
    for field in entry.fields:
        if field.type == "relation" and field.many:
            values[field.name] = list(getattr(record, field.column).values_list("pk", flat=True))
        elif field.type == "relation":
            values[field.name] = getattr(record, f"{field.column}_id")
        else:
            values[field.name] = field_type(field.type).to_json(field, getattr(record, field.column))
    return values


def _fit_rows(form_field, value, most: int = 40) -> None:
    """Grow a text box to show a long value whole (up to `most` lines, then it scrolls)."""
    text = value if isinstance(value, str) else form_field.prepare_value(value)
    cols = int(form_field.widget.attrs.get("cols", 80))
    lines = sum(1 + len(line) // cols for line in (text or "").splitlines())
    form_field.widget.attrs["rows"] = max(int(form_field.widget.attrs.get("rows", 4)), min(lines, most))


class RecordForm(forms.Form):
    """One form field per data-model field; values are checked by `datamodels.records`, not here."""

    def __init__(self, *args, entry, schema, admin_site, values: dict | None = None, **kwargs):
        """`values`: JSON-shaped data to start from (a record's, or the defaults for a new one)."""
        values = values or {}
        kwargs["initial"] = {f.name: values.get(f.name) for f in entry.fields}
        super().__init__(*args, **kwargs)
        self.entry = entry
        self.required_names = {f.name for f in entry.fields if f.required}
        for field in entry.fields:
            if field.type == "relation":
                form_field = relation_form_field(field, entry, schema, admin_site)
            else:
                form_field = FORM_FIELDS[field.type](field)
            if field.type in ("long_text", "json", "vector"):
                _fit_rows(form_field, self.initial.get(field.name))
            form_field.label = field.name
            form_field.help_text = " ".join(filter(None, [field.help_text, form_field.help_text, HELP.get(field.type)]))
            self.fields[field.name] = form_field

    def to_data(self) -> dict:
        """The cleaned input as the JSON-shaped dict the record services take; empty is null."""
        data = {}
        for field in self.entry.fields:
            data[field.name] = self.cleaned_data.get(field.name)
        return data

    def add_service_errors(self, details: list[dict], fallback: str) -> None:
        """Put `ValidationFailed`/`Conflict` details on the fields they name (others on the form)."""
        for detail in details or [{"field": None, "message": fallback}]:
            name = detail.get("field")
            self.add_error(name if name in self.fields else None, detail.get("message") or fallback)
