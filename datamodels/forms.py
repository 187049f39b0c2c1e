"""Admin forms: the model builder (a data model and its fields).

The builder forms check a whole definition the way `datamodels.services` will
(`validate_model_name`, `validate_field` against the other fields as they will be
after the save, `field_change_problem` for changed fields unless "force" is
ticked), so errors show on the offending row before anything is written; then
`FieldInlineFormSet.apply` writes through the services. The record form lives in
`datamodels.admin_records_form`.
"""

from __future__ import annotations

import copy

from django import forms
from django.forms.models import BaseInlineFormSet

from .fieldtypes import REGISTRY
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


# --- records ---------------------------------------------------------------------------


def __getattr__(name: str):
    """`RecordForm` and `record_values` moved to `datamodels.admin_records_form` (imported lazily: it imports us)."""
    if name in ("RecordForm", "record_values"):
        from . import admin_records_form

        return getattr(admin_records_form, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
