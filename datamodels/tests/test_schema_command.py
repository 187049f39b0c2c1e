"""`manage.py schema export|apply` against a real PostgreSQL: tables, round trips, plans and refusals."""

import copy
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from datamodels import services
from datamodels.models import DataModel, Field, SchemaState

pytestmark = pytest.mark.django_db

# The SPEC §2 example, verbatim.
SPEC_EXAMPLE = {"models": [
    {"name": "companies", "fields": [{"name": "name", "type": "text", "required": True}]},
    {"name": "customers", "label": "Customer", "fields": [
        {"name": "name", "type": "text", "required": True, "max_length": 200},
        {"name": "email", "type": "email", "unique": True},
        {"name": "status", "type": "select", "choices": ["active", "inactive"], "default": "active"},
        {"name": "total", "type": "number", "indexed": True},
        {"name": "company", "type": "relation", "to": "companies"},
        {"name": "bio", "type": "long_text"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["name", "bio"]},
    ]},
]}

# Every type and option at least once; `things` is declared before the model it points to.
EVERY_TYPE = {"models": [
    {"name": "things", "label": "Thing", "description": "One of each.", "fields": [
        {"name": "title", "type": "text", "regex": "^[A-Z]", "help_text": "Capitalised", "indexed": True},
        {"name": "count", "type": "integer", "min": 0, "max": 10, "default": 1, "required": True},
        {"name": "price", "type": "number", "decimal_places": 2, "min": 0.5},
        {"name": "ratio", "type": "number"},
        {"name": "active", "type": "boolean", "default": False},
        {"name": "born", "type": "date"},
        {"name": "seen_at", "type": "datetime"},
        {"name": "site", "type": "url"},
        {"name": "tags", "type": "multi_select", "choices": ["a", "b"]},
        {"name": "meta", "type": "json", "default": {"k": [1, 2]}},
        {"name": "owner", "type": "relation", "to": "people"},
        {"name": "friends", "type": "relation", "to": "people", "many": True},
        {"name": "parent", "type": "relation", "to": "things"},
        {"name": "vec", "type": "vector", "dimensions": 3},
    ]},
    {"name": "people", "fields": [{"name": "name", "type": "text"}]},
]}


def run(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command("schema", *args, stdout=out, stderr=err)
    return out.getvalue()


def apply(tmp_path, document, *flags) -> str:
    return run("apply", write(tmp_path, document), *flags)


def write(tmp_path, document, name="schema.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def refused(tmp_path, document, *flags) -> str:
    with pytest.raises(CommandError) as info:
        apply(tmp_path, document, *flags)
    return str(info.value)


def columns(model: str) -> dict[str, str]:
    """Field name → PostgreSQL data type of its column in the model's real table."""
    data_model = DataModel.objects.get(name=model)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_name = %s",
            [data_model.db_table],
        )
        found = {name: (data_type, udt) for name, data_type, udt in cursor.fetchall()}
    result = {}
    for field in data_model.fields.all():
        if field.column in found:
            data_type, udt = found[field.column]
            result[field.name] = udt if data_type == "USER-DEFINED" else data_type
    return result


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def snapshot() -> list:
    """Every definition row, to show that something changed nothing."""
    return [list(DataModel.objects.values()), list(Field.objects.values()), SchemaState.objects.get(pk=1).version]


def delete_everything() -> None:
    for relation in Field.objects.filter(type="relation"):
        services.field_delete(field=relation)
    for data_model in DataModel.objects.all():
        services.data_model_delete(data_model=data_model)


def add_rows(model: str, field: str, values: list) -> None:
    data_model = DataModel.objects.get(name=model)
    column = data_model.fields.get(name=field).column
    with connection.cursor() as cursor:
        for index, value in enumerate(values):
            cursor.execute(f'INSERT INTO "{data_model.db_table}" (id, "{column}") VALUES (%s, %s)', [f"r{index}", value])


def values_of(model: str, field: str) -> list:
    data_model = DataModel.objects.get(name=model)
    column = data_model.fields.get(name=field).column
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM "{data_model.db_table}" ORDER BY id')
        return [row[0] for row in cursor.fetchall()]


# --- apply ----------------------------------------------------------------------


def test_apply_spec_example_creates_models_and_real_tables(tmp_path):
    output = apply(tmp_path, SPEC_EXAMPLE)

    assert output.splitlines() == [
        "+ model companies",
        "+ model customers",
        "+ field companies.name (text, required)",
        "+ field customers.name (text, required)",
        "+ field customers.email (email, unique)",
        "+ field customers.status (select)",
        "+ field customers.total (number, indexed)",
        "+ field customers.company (relation to companies)",
        "+ field customers.bio (long_text)",
        "+ field customers.embedding (vector(384))",
        "Applied 10 change(s).",
    ]
    customers = DataModel.objects.get(name="customers")
    assert customers.label == "Customer"
    assert [f.name for f in customers.fields.all()] == [f["name"] for f in SPEC_EXAMPLE["models"][1]["fields"]]
    company = customers.fields.get(name="company")
    assert company.related_model.name == "companies"
    assert customers.fields.get(name="embedding").source_fields == ["name", "bio"]
    assert columns("customers") == {
        "name": "text", "email": "text", "status": "text", "total": "double precision",
        "company": "character varying", "bio": "text", "embedding": "vector",
    }
    assert columns("companies") == {"name": "text"}


def test_apply_every_type_gives_typed_columns(tmp_path):
    apply(tmp_path, EVERY_TYPE)

    assert columns("things") == {
        "title": "text", "count": "bigint", "price": "numeric", "ratio": "double precision", "active": "boolean",
        "born": "date", "seen_at": "timestamp with time zone", "site": "text", "tags": "ARRAY", "meta": "jsonb",
        "owner": "character varying", "parent": "character varying", "vec": "vector",
    }
    friends = Field.objects.get(name="friends")
    assert table_exists(friends.join_table)
    assert DataModel.objects.get(name="things").fields.get(name="owner").related_model.name == "people"


def test_apply_again_is_up_to_date_and_changes_nothing(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)
    apply(tmp_path, EVERY_TYPE)
    before = snapshot()

    assert apply(tmp_path, SPEC_EXAMPLE) == "Schema is up to date.\n"
    assert apply(tmp_path, EVERY_TYPE) == "Schema is up to date.\n"
    assert snapshot() == before


def test_without_prune_what_the_file_lacks_stays(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)
    only_companies = {"models": [SPEC_EXAMPLE["models"][0]]}

    assert apply(tmp_path, only_companies) == "Schema is up to date.\n"
    assert DataModel.objects.filter(name="customers").exists()


def test_options_spelled_out_with_their_defaults_change_nothing(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)
    explicit = copy.deepcopy(SPEC_EXAMPLE)
    explicit["models"][0]["label"] = ""
    explicit["models"][0]["fields"][0].update(unique=False, default=None, max_length=None, many=False, choices=[])
    explicit["models"][1]["fields"][4].update(indexed=False, many=False, min=None)

    assert apply(tmp_path, explicit) == "Schema is up to date.\n"


def test_relation_to_a_model_declared_later_works(tmp_path):
    document = {"models": [
        {"name": "orders", "fields": [
            {"name": "buyer", "type": "relation", "to": "people"},
            {"name": "items", "type": "relation", "to": "products", "many": True},
        ]},
        {"name": "people", "fields": [{"name": "best_order", "type": "relation", "to": "orders"}]},
        {"name": "products", "fields": []},
    ]}

    apply(tmp_path, document)

    orders = DataModel.objects.get(name="orders")
    assert orders.fields.get(name="buyer").related_model.name == "people"
    assert orders.fields.get(name="items").related_model.name == "products"
    assert DataModel.objects.get(name="people").fields.get(name="best_order").related_model == orders
    assert apply(tmp_path, document) == "Schema is up to date.\n"


def test_vector_declared_before_its_source_fields_keeps_file_order(tmp_path):
    document = {"models": [{"name": "docs", "fields": [
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["body"]},
        {"name": "body", "type": "long_text"},
    ]}]}

    output = apply(tmp_path, document)

    assert output.splitlines()[1:3] == ["+ field docs.body (long_text)", "+ field docs.embedding (vector(384))"]
    assert [f["name"] for f in json.loads(run("export"))["models"][0]["fields"]] == ["embedding", "body"]


def test_changes_are_applied_and_described_one_line_each(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)
    changed = copy.deepcopy(SPEC_EXAMPLE)
    customers = changed["models"][1]
    customers["label"] = "Client"
    customers["description"] = "People who buy."
    customers["fields"][3] = {"name": "total", "type": "integer", "min": 0}
    customers["fields"][1] = {"name": "email", "type": "email", "help_text": "Work address"}
    customers["fields"].append({"name": "notes", "type": "json"})

    output = apply(tmp_path, changed)

    assert output.splitlines() == [
        "+ field customers.notes (json)",
        '~ model customers: label "Customer" -> "Client", description "" -> "People who buy."',
        '~ field customers.email: unique true -> false, help_text "" -> "Work address"',
        "~ field customers.total: type number -> integer, indexed true -> false, min null -> 0",
        "Applied 4 change(s).",
    ]
    assert columns("customers")["total"] == "bigint"
    assert DataModel.objects.get(name="customers").description == "People who buy."
    assert apply(tmp_path, changed) == "Schema is up to date.\n"


# --- export and round trip ------------------------------------------------------


def test_export_apply_on_empty_database_export_is_identical(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)
    apply(tmp_path, EVERY_TYPE)
    exported = run("export")
    path = write(tmp_path, exported, "exported.json")

    delete_everything()
    assert run("export") == '{\n  "models": []\n}\n'
    run("apply", path)

    assert run("export") == exported
    assert run("apply", path) == "Schema is up to date.\n"


def test_export_leaves_out_defaults_and_sorts_models(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)

    document = json.loads(run("export"))

    assert document == {"models": [
        {"name": "companies", "fields": [{"name": "name", "type": "text", "required": True}]},
        {"name": "customers", "label": "Customer", "fields": [
            {"name": "name", "type": "text", "required": True, "max_length": 200},
            {"name": "email", "type": "email", "unique": True},
            {"name": "status", "type": "select", "default": "active", "choices": ["active", "inactive"]},
            {"name": "total", "type": "number", "indexed": True},
            {"name": "company", "type": "relation", "to": "companies"},
            {"name": "bio", "type": "long_text"},
            {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["name", "bio"]},
        ]},
    ]}


def test_export_to_a_file(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)
    target = tmp_path / "out.json"

    assert run("export", "-o", str(target)) == f"Wrote 2 model(s) to {target}.\n"
    assert target.read_text() == run("export")


def test_export_to_an_unwritable_place_is_refused(tmp_path):
    with pytest.raises(CommandError, match="^Cannot write .*/missing/out.json: No such file or directory$"):
        run("export", "-o", str(tmp_path / "missing" / "out.json"))


# --- dry run and prune ------------------------------------------------------------


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    before = snapshot()

    output = apply(tmp_path, SPEC_EXAMPLE, "--dry-run")

    assert output.splitlines()[0] == "+ model companies"
    assert output.splitlines()[-1] == "Dry run: 10 change(s), nothing applied."
    assert snapshot() == before
    assert not DataModel.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE %s", ["dm\\_%"])
        assert cursor.fetchone()[0] == 0


def test_prune_removes_fields_and_models_the_file_lacks(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)
    apply(tmp_path, {"models": [{"name": "legacy", "fields": [{"name": "x", "type": "text"}]}]})
    customers = copy.deepcopy(SPEC_EXAMPLE["models"][1])
    customers["fields"] = [f for f in customers["fields"] if f["name"] not in ("status", "company")]
    status_column = Field.objects.get(name="status").column
    companies_table = DataModel.objects.get(name="companies").db_table

    output = apply(tmp_path, {"models": [customers]}, "--prune")

    assert output.splitlines() == [
        "- field customers.status",
        "- field customers.company",
        "- model companies",
        "- model legacy",
        "Applied 4 change(s).",
    ]
    assert list(DataModel.objects.values_list("name", flat=True)) == ["customers"]
    assert status_column not in columns("customers")
    assert set(columns("customers")) == {"name", "email", "total", "bio", "embedding"}
    assert not table_exists(companies_table)


def test_prune_removes_models_that_relate_to_each_other(tmp_path):
    apply(tmp_path, {"models": [
        {"name": "a", "fields": [{"name": "b", "type": "relation", "to": "b"}]},
        {"name": "b", "fields": [{"name": "a", "type": "relation", "to": "a", "many": True}]},
        {"name": "keep", "fields": []},
    ]})

    output = apply(tmp_path, {"models": [{"name": "keep"}]}, "--prune")

    assert output.splitlines() == ["- model a", "- model b", "Applied 2 change(s)."]
    assert list(DataModel.objects.values_list("name", flat=True)) == ["keep"]


def test_prune_refuses_a_relation_to_a_model_it_would_remove(tmp_path):
    apply(tmp_path, SPEC_EXAMPLE)

    message = refused(tmp_path, {"models": [SPEC_EXAMPLE["models"][1]]}, "--prune")

    assert message == 'customers.company: relation to unknown model "companies"'
    assert DataModel.objects.filter(name="companies").exists()


# --- refusals: nothing changes ------------------------------------------------------


def test_one_bad_field_applies_nothing_and_names_the_field(tmp_path):
    document = copy.deepcopy(SPEC_EXAMPLE)
    document["models"][1]["fields"][3]["type"] = "numbr"

    message = refused(tmp_path, document)

    assert message == (
        'customers.total: unknown type "numbr" (one of: boolean, date, datetime, email, integer, json, long_text, '
        "multi_select, number, relation, select, text, url, vector)"
    )
    assert not DataModel.objects.exists()


def test_a_failure_while_applying_rolls_back_every_earlier_operation(tmp_path):
    apply(tmp_path, {"models": [{"name": "people", "fields": [{"name": "code", "type": "text"}]}]})
    add_rows("people", "code", ["a1", "a1"])
    before = snapshot()
    document = {"models": [
        {"name": "extra", "fields": [{"name": "x", "type": "text"}]},
        {"name": "people", "label": "People", "fields": [{"name": "code", "type": "text", "unique": True}]},
    ]}

    message = refused(tmp_path, document)

    assert message == 'people.code: "code" cannot be unique: 1 value(s) occur more than once'
    assert snapshot() == before
    assert not DataModel.objects.filter(name="extra").exists()


def test_apply_reads_stdin(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO(json.dumps(SPEC_EXAMPLE)))

    assert run("apply", "-").splitlines()[-1] == "Applied 10 change(s)."


def test_non_json_numbers_are_refused(tmp_path):
    path = write(tmp_path, '{"models": [{"name": "a", "fields": [{"name": "x", "type": "integer", "max": NaN}]}]}')

    with pytest.raises(CommandError) as info:
        run("apply", path)

    assert str(info.value) == f"{path} is not valid JSON: NaN is not a JSON value"
    assert refused(tmp_path, '{"models": [{"name": "a", "fields": [{"name": "x", "type": "number", "min": 1e400}]}]}') \
        == 'a.x: "min" must be a finite number'


def test_a_value_the_database_refuses_is_one_line_naming_the_field(tmp_path):
    document = {"models": [{"name": "a", "fields": [{"name": "x", "type": "text", "help_text": "h" * 501}]}]}

    message = refused(tmp_path, document)

    assert message.startswith("a.x: ")
    assert "\n" not in message
    assert not DataModel.objects.exists()


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError) as info:
        run("apply", str(tmp_path / "nope.json"))

    assert str(info.value) == f"Cannot read {tmp_path / 'nope.json'}: No such file or directory"


def test_invalid_json_names_line_and_column(tmp_path):
    path = write(tmp_path, '{"models": [\n  {"name": "a",}\n]}')

    with pytest.raises(CommandError) as info:
        run("apply", path)

    assert str(info.value) == (
        f"{path} is not valid JSON: Expecting property name enclosed in double quotes at line 2, column 16"
    )


@pytest.mark.parametrize(("document", "message"), [
    ([], 'the schema file must be a JSON object of the form {"models": [...]}'),
    ({"model": []}, 'the schema file must be a JSON object of the form {"models": [...]}'),
    ({"models": [], "version": 1}, 'unknown top-level key "version"'),
    ({"models": ["customers"]}, "models[0]: must be an object"),
    ({"models": [{"fields": []}]}, 'models[0]: "name" is required'),
    ({"models": [{"name": "a", "lable": "A"}]}, 'a: unknown key "lable"'),
    ({"models": [{"name": "a", "label": 3}]}, 'a: "label" must be a string'),
    ({"models": [{"name": "a", "fields": {}}]}, 'a: "fields" must be a list'),
    ({"models": [{"name": "a"}, {"name": "a"}]}, "a: model declared more than once"),
    ({"models": [{"name": "a", "fields": [{"name": "x"}]}]}, 'a.x: "type" is required'),
    ({"models": [{"name": "a", "fields": [{"type": "text"}]}]}, 'a.fields[0]: "name" is required'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "text"}, {"name": "x", "type": "url"}]}]},
     "a.x: field declared more than once"),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "text", "required": "yes"}]}]},
     'a.x: "required" must be true or false'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "integer", "min": "0"}]}]},
     'a.x: "min" must be a finite number'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "text", "max_length": 0}]}]},
     'a.x: "max_length" must be a positive integer'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "select", "choices": "a,b"}]}]},
     'a.x: "choices" must be a list of strings'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "integer", "max_length": 5}]}]},
     'a.x: option "max_length" does not apply to integer fields'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "relation", "to": "a", "indexed": True}]}]},
     'a.x: option "indexed" does not apply to relation fields'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "text", "required": None}]}]},
     'a.x: "required" must be true or false'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "text", "many": True}]}]},
     'a.x: option "many" does not apply to text fields'),
    ({"models": [{"name": ["a"]}, {"name": "b", "fields": [{"name": ["x"], "type": "text"}]}]},
     'models[0]: "name" must be a string; b.fields[0]: "name" must be a string'),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "relation"}]}]},
     "a.x: a relation needs `to`: the model it points to"),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "vector", "dimensions": 384, "source_fields": ["y"]}]}]},
     "a.x: source_fields must name text fields of this model (not: y)"),
    ({"models": [{"name": "a", "fields": [{"name": "x", "type": "select", "choices": ["p"], "default": "q"}]}]},
     "a.x: default is invalid: Must be one of: p"),
])
def test_invalid_documents_are_refused_with_their_place(tmp_path, document, message):
    assert refused(tmp_path, document) == message
    assert not DataModel.objects.exists()


def test_every_problem_is_reported_at_once(tmp_path):
    document = copy.deepcopy(SPEC_EXAMPLE)
    document["models"][1]["fields"][1]["uniq"] = True
    document["models"][1]["fields"][4]["to"] = "compnies"
    document["models"][0]["description"] = ["no"]

    assert refused(tmp_path, document) == (
        'companies: "description" must be a string; customers.email: unknown option "uniq"; '
        'customers.company: relation to unknown model "compnies"'
    )


def test_unknown_option_is_refused(tmp_path):
    document = copy.deepcopy(SPEC_EXAMPLE)
    document["models"][1]["fields"][1] = {"name": "email", "type": "email", "uniq": True}

    assert refused(tmp_path, document) == 'customers.email: unknown option "uniq"'
    assert not DataModel.objects.exists()


@pytest.mark.parametrize("name", ["id", "page", "created_at", "filter"])
def test_reserved_field_names_are_refused(tmp_path, name):
    document = {"models": [{"name": "customers", "fields": [{"name": name, "type": "text"}]}]}

    assert refused(tmp_path, document) == f'customers.{name}: field name "{name}" is reserved'


@pytest.mark.parametrize(("name", "message"), [
    ("Customers", 'model name "Customers" must start with a lowercase letter and use only a-z, 0-9 and _'),
    ("2fast", 'model name "2fast" must start with a lowercase letter and use only a-z, 0-9 and _'),
    ("select", 'model name "select" is a reserved word'),
    ("x" * 64, f'model name "{"x" * 64}" is longer than 63 characters'),
])
def test_bad_model_names_are_refused(tmp_path, name, message):
    assert refused(tmp_path, {"models": [{"name": name, "fields": []}]}) == message


def test_relation_to_unknown_model_is_refused(tmp_path):
    document = {"models": [{"name": "orders", "fields": [{"name": "buyer", "type": "relation", "to": "people"}]}]}

    assert refused(tmp_path, document) == 'orders.buyer: relation to unknown model "people"'


def test_relation_to_a_model_only_in_the_database_is_allowed_without_prune(tmp_path):
    apply(tmp_path, {"models": [{"name": "people", "fields": []}]})
    document = {"models": [{"name": "orders", "fields": [{"name": "buyer", "type": "relation", "to": "people"}]}]}

    assert apply(tmp_path, document).splitlines()[-1] == "Applied 2 change(s)."


def test_lossy_retype_is_refused_without_force_and_applied_with_it(tmp_path):
    as_text = {"models": [{"name": "sales", "fields": [{"name": "total", "type": "text"}]}]}
    as_integer = {"models": [{"name": "sales", "fields": [{"name": "total", "type": "integer"}]}]}
    apply(tmp_path, as_text)
    add_rows("sales", "total", ["12", "twelve", None])

    message = refused(tmp_path, as_integer)

    assert message == (
        'sales.total: changing "total" from text to integer would lose 1 value(s) that do not convert; '
        "fix or clear them first, or force the change"
    )
    assert values_of("sales", "total") == ["12", "twelve", None]
    assert columns("sales") == {"total": "text"}
    assert refused(tmp_path, as_integer, "--dry-run") == message

    output = apply(tmp_path, as_integer, "--force")

    assert output == "~ field sales.total: type text -> integer\nApplied 1 change(s).\n"
    assert values_of("sales", "total") == [12, None, None]
    assert columns("sales") == {"total": "bigint"}


def test_safe_retype_needs_no_force(tmp_path):
    apply(tmp_path, {"models": [{"name": "sales", "fields": [{"name": "total", "type": "text"}]}]})
    add_rows("sales", "total", ["12", "3.5"])

    apply(tmp_path, {"models": [{"name": "sales", "fields": [{"name": "total", "type": "number"}]}]})

    assert values_of("sales", "total") == [12.0, 3.5]


# --- help ---------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    (["--help"], "{export,apply}"),
    (["export", "--help"], "-o FILE, --output FILE"),
    (["apply", "--help"], "--dry-run"),
])
def test_help_works_for_each_action(capsys, args, expected):
    with pytest.raises(SystemExit) as info:
        call_command("schema", *args)

    assert info.value.code == 0
    assert expected in capsys.readouterr().out
