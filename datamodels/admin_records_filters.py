"""The records browser's list filters: one per filterable field, chosen by its type.

They plug into Django admin's `ChangeList` as `list_filter` entries
(`filters_for(entry, ...)`): choices for select, multi select and boolean
(`ChoiceFilter`, a `SimpleListFilter`), from–to for integer, number, date and
datetime (`RangeFilter`), and a relation's target picked with the admin's
autocomplete (`RelationFilter`). Query parameters are the field's name with
Django's lookup suffixes (`status__exact`, `visits__gte`, `company__exact`): no
field name with a suffix is ever one of the change list's own parameters. Range
bounds are parsed by the field type's `parse_filter`, as the API's filters are;
a bound that does not parse is shown with the API's message and not applied.
"""

from __future__ import annotations

from functools import partial

from django.contrib import admin

from .fieldtypes import InvalidValue, field_type
from .fieldtypes.scalars import parse_datetime

EXACT, GTE, LTE = "__exact", "__gte", "__lte"
RANGE_INPUTS = {"integer": "number", "number": "number", "date": "date", "datetime": "datetime-local"}
TEMPLATES = "admin/datamodels/records"


def _has_nul(value: str) -> bool:
    # PostgreSQL text cannot hold NUL: such a value matches nothing and would be a DataError.
    return "\x00" in value


def _other_params(changelist, own: list[str]) -> list[tuple[str, str]]:
    """The list's other query parameters, kept as hidden inputs by a filter's GET form (page reset)."""
    skip = {*own, "p"}
    return [(name, value) for name, values in changelist.params.items() if name not in skip
            for value in (values if isinstance(values, list) else [values])]


class ChoiceFilter(admin.SimpleListFilter):
    """Records whose select is one choice, whose multi select holds it, or whose boolean is yes/no/empty."""

    def __init__(self, field, request, params, model, model_admin):
        self.field, self.title, self.parameter_name = field, field.name, field.name + EXACT
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        if self.field.type == "boolean":
            return [("true", "yes"), ("false", "no"), ("null", "empty")]
        return [(choice, choice) for choice in self.field.choices]

    def queryset(self, request, queryset):
        value, column = self.value(), self.field.column
        if value is None or value not in dict(self.lookup_choices):
            return queryset
        if self.field.type == "boolean":
            if value == "null":
                return queryset.filter(**{f"{column}__isnull": True})
            return queryset.filter(**{column: value == "true"})
        if self.field.type == "multi_select":
            return queryset.filter(**{f"{column}__contains": [value]})
        return queryset.filter(**{column: value})


class RangeFilter(admin.ListFilter):
    """Records whose number, date or datetime lies from one bound to the other (both inclusive, either open)."""

    template = f"{TEMPLATES}/range_filter.html"

    def __init__(self, field, request, params, model, model_admin):
        self.field, self.title = field, field.name
        super().__init__(request, params, model, model_admin)
        self.bounds, self.errors = {}, []
        for name in self.expected_parameters():
            if name in params:
                raw = params.pop(name)
                raw = (raw[-1] if isinstance(raw, list) else raw).strip()
                self.used_parameters[name] = raw
                if raw:
                    self._parse(name, raw)

    def _parse(self, name: str, raw: str) -> None:
        try:
            if _has_nul(raw):
                raise InvalidValue("Must not contain NUL characters")
            if self.field.type == "datetime":
                value = parse_datetime(raw)
            elif self.field.type == "date":
                value = field_type("date").validate(self.field, raw)
            else:
                value = field_type(self.field.type).parse_filter(self.field, raw)
        except InvalidValue as exc:
            self.errors.append(f"{'from' if name.endswith(GTE) else 'to'}: {exc}")
            return
        self.bounds[name[len(self.field.name):]] = value

    def expected_parameters(self):
        return [self.field.name + GTE, self.field.name + LTE]

    def has_output(self):
        return True

    def choices(self, changelist):
        low, high = self.expected_parameters()
        yield {
            "low": (low, self.used_parameters.get(low, "")),
            "high": (high, self.used_parameters.get(high, "")),
            "input_type": RANGE_INPUTS[self.field.type],
            "step": "any" if self.field.type == "number" else "1",
            "errors": self.errors,
            "hidden": _other_params(changelist, [low, high]),
            "clear_url": changelist.get_query_string(remove=[low, high, "p"]),
            "active": bool(self.bounds),
        }

    def queryset(self, request, queryset):
        if self.errors or not self.bounds:
            return queryset
        return queryset.filter(**{f"{self.field.column}{op}": value for op, value in self.bounds.items()})


class RelationFilter(admin.ListFilter):
    """Records related to one target record, picked by searching the target (the admin's autocomplete)."""

    template = f"{TEMPLATES}/relation_filter.html"

    def __init__(self, field, entry, widget_field, request, params, model, model_admin):
        self.field, self.entry, self.widget_field, self.title = field, entry, widget_field, field.name
        super().__init__(request, params, model, model_admin)
        self.parameter_name = field.name + EXACT
        if self.parameter_name in params:
            raw = params.pop(self.parameter_name)
            self.used_parameters[self.parameter_name] = (raw[-1] if isinstance(raw, list) else raw).strip()

    def value(self) -> str:
        value = self.used_parameters.get(self.parameter_name, "")
        return "" if _has_nul(value) else value

    def expected_parameters(self):
        return [self.parameter_name]

    def has_output(self):
        return True

    def choices(self, changelist):
        widget = self.widget_field.widget
        yield {
            "picker": widget.render(self.parameter_name, self.value() or None,
                                    attrs={"id": f"filter-{self.field.name}"}),
            "hidden": _other_params(changelist, [self.parameter_name]),
            "clear_url": changelist.get_query_string(remove=[self.parameter_name, "p"]),
            "active": bool(self.value()),
        }

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if self.field.many:
            through = self.entry.model._meta.get_field(self.field.column).remote_field.through
            return queryset.filter(pk__in=through.objects.filter(target_id=value).values("source_id"))
        return queryset.filter(**{f"{self.field.column}_id": value})


def filters_for(entry, relation_field) -> list:
    """`list_filter` for a model: a filter per field that has one (`relation_field(field)`: its picker)."""
    filters = []
    for field in entry.fields:
        if field.type in ("select", "multi_select", "boolean"):
            filters.append(partial(ChoiceFilter, field))
        elif field.type in RANGE_INPUTS:
            filters.append(partial(RangeFilter, field))
        elif field.type == "relation":
            filters.append(partial(RelationFilter, field, entry, relation_field(field)))
    return filters


def filter_parameters(entry) -> frozenset[str]:
    """Every query parameter the filters of `filters_for(entry)` read."""
    names = set()
    for field in entry.fields:
        if field.type in ("select", "multi_select", "boolean", "relation"):
            names.add(field.name + EXACT)
        elif field.type in RANGE_INPUTS:
            names.update((field.name + GTE, field.name + LTE))
    return frozenset(names)
