"""Admin forms: the model builder (a data model and its fields) and the record form.

The builder forms check a whole definition the way `datamodels.services` will
(`validate_model_name`, `validate_field` against the other fields as they will be
after the save, `field_change_problem` for changed fields unless "force" is
ticked), so errors show on the offending row before anything is written; then
`FieldInlineFormSet.apply` writes through the services. `RecordForm` is built from
a model's fields at run time and turns its input into the JSON-shaped dict that
`datamodels.records` validates, exactly as for the API.
"""

from __future__ import annotations

import copy
import re

from django import forms
from django.forms.models import BaseInlineFormSet

from .fieldtypes import REGISTRY, field_type
from .fieldtypes.scalars import format_datetime
from .models import DataModel, Field
from .services import (
    field_change_problem,
    field_create,
    field_delete,
    field_update,
    normalize_field,
    storage_changed,
    validate_field,
    validate_model_name,
)

# The order of the spec; any type registered later is listed after these.
TYPE_ORDER = ("text", "long_text", "integer", "number", "boolean", "date", "datetime", "email", "url", "select",
              "multi_select", "json", "relation", "vector")
# The definition attributes a field form edits, as the services take them.
FIELD_ATTRS = ("name", "type", "required", "unique", "indexed", "default", "help_text", "max_length", "min_value",
               "max_value", "decimal_places", "regex", "choices", "related_model", "many", "dimensions",
               "source_fields")
# Above this many records, a relation is typed as ids instead of picked from a list.
RELATION_CHOICES_CAP = 300


def type_choices() -> list[tuple[str, str]]:
    names = [name for name in TYPE_ORDER if name in REGISTRY] + sorted(set(REGISTRY) - set(TYPE_ORDER))
    return [(name, name.replace("_", " ")) for name in names]


class JsonInputField(forms.JSONField):
    """JSON typed into a text box; empty is None, and with `lenient` bare text is taken as a string."""

    def __init__(self, *, lenient: bool = False, **kwargs):
        self.lenient = lenient
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:
            if self.lenient:
                return value.strip()
            raise

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class CommaListField(forms.CharField):
    """A list of strings typed as `a, b, c`."""

    def to_python(self, value):
        if isinstance(value, (list, tuple)):
            return list(value)
        return [item.strip() for item in (value or "").split(",") if item.strip()]

    def prepare_value(self, value):
        return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value

    def has_changed(self, initial, data):
        # Compare as lists: a blank new row starts from None and posts "", both no items.
        # (CharField's test saw `None` vs `[]` as a change, so the browser's untouched
        # extra row was validated, and refused for its empty name.)
        return not self.disabled and self.to_python(initial) != self.to_python(data)


# --- the model builder ---------------------------------------------------------------


class DataModelForm(forms.ModelForm):
    """A data model's own attributes; its name is checked by the services' rule."""

    # Set by the admin when saving raised SchemaError (a race), to show it on the re-rendered form.
    schema_error: str | None = None

    class Meta:
        model = DataModel
        fields = ("name", "label", "description")
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean_name(self):
        name = self.cleaned_data["name"]
        errors = validate_model_name(name)
        if errors:
            raise forms.ValidationError(errors)
        return name

    def clean(self):
        cleaned = super().clean()
        if self.schema_error:
            raise forms.ValidationError(self.schema_error)
        return cleaned


class FieldForm(forms.ModelForm):
    """One field definition, with the options of every type and a "force" box for lossy retypes."""

    type = forms.ChoiceField(choices=type_choices)
    default = JsonInputField(
        lenient=True, required=False, widget=forms.TextInput(attrs={"size": 30}),
        help_text='JSON, e.g. "active", 42, true, ["a"]; bare text is taken as a string.',
    )
    choices = CommaListField(required=False, help_text="For select and multi select: a, b, c")
    source_fields = CommaListField(
        required=False, help_text="For vectors: text fields whose joined text is embedded, e.g. name, bio"
    )
    force = forms.BooleanField(
        required=False, label="Force the change",
        help_text="Apply this field's change even where stored values do not convert: those become empty.",
    )

    class Meta:
        model = Field
        fields = FIELD_ATTRS
        labels = {"min_value": "Min", "max_value": "Max", "related_model": "To"}
        help_texts = {"related_model": "For relations: the model it points to", "many": "For relations: to-many"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            # A blank extra row counts as unchanged, so an untouched one is not validated.
            self.initial.setdefault("type", "text")
            # Forcing converts stored values, and a new field has none: no box to wonder about.
            self.fields["force"].widget = forms.HiddenInput()
        self.candidate: Field | None = None

    def validate_unique(self):
        """Names are checked in the formset, against the fields as they will be after the save."""

    def candidate_field(self, renames: dict[str, str]) -> Field:
        """The definition this row asks for, as the services will store it."""
        field = copy.copy(self.instance)  # the ModelForm has already applied the input to it
        if field.type == "vector" and "source_fields" not in self.changed_data:
            # A renamed source is renamed in vectors by the service: expect it here too.
            field.source_fields = [renames.get(name, name) for name in field.source_fields]
        return normalize_field(field)

    def service_attrs(self) -> dict:
        return {attr: getattr(self.candidate, attr) for attr in FIELD_ATTRS}

    def is_edited(self) -> bool:
        return bool(set(self.changed_data) - {"force", "DELETE"})


class FieldInlineFormSet(BaseInlineFormSet):
    """The fields of one data model, validated together and saved through the services."""

    def clean(self):
        if any(self.errors):
            return
        live = [form for form in self.forms if self._is_live(form)]
        renames = {
            form.initial["name"]: form.cleaned_data["name"]
            for form in live
            if form.instance.pk and form.initial.get("name") != form.cleaned_data["name"]
        }
        for form in live:
            form.candidate = form.candidate_field(renames)
        for form in live:
            siblings = [other.candidate for other in live if other is not form]
            for message in validate_field(form.candidate, siblings):
                form.add_error(None, message)
        for form in live:
            if form.instance.pk and form.is_edited() and not form.errors:
                self._check_change(form)

    def _is_live(self, form) -> bool:
        """A row that will exist after the save: kept existing fields and filled-in new ones."""
        if self._should_delete_form(form):
            return False
        return bool(form.instance.pk) or form.has_changed()

    def _check_change(self, form: FieldForm) -> None:
        old = Field.objects.select_related("data_model").get(pk=form.instance.pk)
        new = form.candidate
        problem = field_change_problem(old, new)
        if problem and not (form.cleaned_data.get("force") and storage_changed(old, new)):
            form.add_error(None, problem)

    def apply(self, *, data_model: DataModel) -> None:
        """Write the rows through the services, in an order that lets common edits combine.

        Renames go first (so a vector's sources follow them), new fields before the
        vectors that embed them, vectors before the fields they stop embedding are
        deleted. Any `SchemaError` aborts the admin's transaction as a whole.
        """
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        edited = [form for form in self.initial_forms if self._is_live(form) and form.is_edited()]
        added = [form for form in self.extra_forms if self._is_live(form)]

        def is_vector(form):
            return form.candidate.type == "vector"

        for form in [form for form in edited if not is_vector(form)]:
            self._update(form)
        for form in [form for form in added if not is_vector(form)]:
            self._create(form, data_model)
        for form in [form for form in edited if is_vector(form)]:
            self._update(form)
        doomed = [form.instance.pk for form in self.deleted_forms if form.instance.pk]
        for field in sorted(Field.objects.filter(pk__in=doomed), key=lambda f: f.type != "vector"):
            field_delete(field=field)
            self.deleted_objects.append(field)
        for form in [form for form in added if is_vector(form)]:
            self._create(form, data_model)

    def _update(self, form: FieldForm) -> None:
        field = field_update(field=form.instance, force=form.cleaned_data.get("force", False), **form.service_attrs())
        self.changed_objects.append((field, [name for name in form.changed_data if name != "force"]))

    def _create(self, form: FieldForm, data_model: DataModel) -> None:
        self.new_objects.append(field_create(data_model=data_model, **form.service_attrs()))


# --- records ----------------------------------------------------------------------------


def _text_field(field, widget=None) -> forms.Field:
    return forms.CharField(required=False, empty_value=None, widget=widget)


FORM_FIELDS = {
    "text": lambda f: _text_field(f),
    "long_text": lambda f: _text_field(f, forms.Textarea(attrs={"rows": 4})),
    # Email and URL values are checked by the field type, with the API's messages.
    "email": lambda f: _text_field(f, forms.EmailInput),
    "url": lambda f: _text_field(f, forms.URLInput),
    "integer": lambda f: forms.IntegerField(required=False),
    "number": lambda f: forms.FloatField(required=False),
    "boolean": lambda f: forms.NullBooleanField(required=False),
    "date": lambda f: forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"})),
    # Typed as ISO 8601 like the API (a datetime-local picker would drop microseconds and the zone).
    "datetime": lambda f: forms.DateTimeField(
        required=False, widget=forms.TextInput(attrs={"size": 32, "placeholder": "2024-01-01T00:00:00Z"}),
        help_text="ISO 8601; UTC unless an offset is given.",
    ),
    "select": lambda f: forms.TypedChoiceField(
        required=False, empty_value=None, choices=[("", "---------")] + [(c, c) for c in f.choices]
    ),
    "multi_select": lambda f: forms.MultipleChoiceField(
        required=False, choices=[(c, c) for c in f.choices], widget=forms.CheckboxSelectMultiple
    ),
    "json": lambda f: JsonInputField(required=False, widget=forms.Textarea(attrs={"rows": 3})),
    "vector": lambda f: JsonInputField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=f"A list of {f.dimensions} numbers"
    ),
}


class IdListField(forms.Field):
    """Record ids of a to-many relation, picked from a list or typed as `rec_a, rec_b`."""

    def to_python(self, value):
        if isinstance(value, str):
            return [item for item in re.split(r"[\s,]+", value) if item]
        return [item for item in (value or []) if item]

    def prepare_value(self, value):
        if isinstance(self.widget, forms.SelectMultiple) or not isinstance(value, list):
            return value
        return ", ".join(value)


def relation_choices(target) -> list[tuple[str, str]] | None:
    """The target's records (newest first) as (id, "id — title") choices; None when there are too many."""
    title = next((f for f in target.fields if f.type in ("text", "email", "select")), None)
    columns = ["pk", title.column] if title else ["pk"]
    rows = target.model.objects.order_by("-created_at", "-id").values_list(*columns)[:RELATION_CHOICES_CAP + 1]
    rows = list(rows)
    if len(rows) > RELATION_CHOICES_CAP:
        return None
    return [(row[0], f"{row[0]} — {row[1]}" if len(row) > 1 and row[1] else row[0]) for row in rows]


def relation_form_field(field: Field, target) -> forms.Field:
    """A select of the target's records, or an id box when there are too many to list."""
    choices = relation_choices(target)
    if field.many and choices is None:
        return IdListField(required=False, widget=forms.TextInput(attrs={"size": 60}),
                           help_text="Record ids, comma-separated")
    if field.many:
        return IdListField(required=False, widget=forms.SelectMultiple(choices=choices))
    widget = forms.TextInput() if choices is None else forms.Select(choices=[("", "---------"), *choices])
    return forms.CharField(required=False, empty_value=None, widget=widget)


def record_form_field(field: Field, schema) -> forms.Field:
    if field.type == "relation":
        form_field = relation_form_field(field, schema.by_id[field.related_model_id])
    else:
        form_field = FORM_FIELDS[field.type](field)
    form_field.label = field.name
    form_field.help_text = " ".join(filter(None, [field.help_text, form_field.help_text]))
    return form_field


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


class RecordForm(forms.Form):
    """One form field per data-model field; values are checked by `datamodels.records`, not here."""

    def __init__(self, *args, entry, schema, values: dict | None = None, **kwargs):
        """`values`: JSON-shaped data to start from (a record's, or the defaults for a new one)."""
        values = values or {}
        kwargs["initial"] = {f.name: values.get(f.name) for f in entry.fields}
        super().__init__(*args, **kwargs)
        self.entry = entry
        self.required_names = {f.name for f in entry.fields if f.required}
        for field in entry.fields:
            self.fields[field.name] = record_form_field(field, schema)

    def to_data(self) -> dict:
        """The cleaned input as the JSON-shaped dict the record services take; empty is null."""
        data = {}
        for field in self.entry.fields:
            value = self.cleaned_data.get(field.name)
            if value is not None and field.type == "date":
                value = value.isoformat()
            elif value is not None and field.type == "datetime":
                value = format_datetime(value)
            data[field.name] = value
        return data

    def add_service_errors(self, details: list[dict], fallback: str) -> None:
        """Put `ValidationFailed`/`Conflict` details on the fields they name (others on the form)."""
        for detail in details or [{"field": None, "message": fallback}]:
            name = detail.get("field")
            self.add_error(name if name in self.fields else None, detail.get("message") or fallback)
