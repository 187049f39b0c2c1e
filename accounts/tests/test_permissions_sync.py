"""Django permissions of data models: made, renamed, relabelled and dropped with the model,
granted through groups in the admin, and obeyed by the records API.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from datamodels import services
from datamodels.models import DataModel
from datamodels.permissions import permissions_sync

from .conftest import BASE, bearer, error

pytestmark = pytest.mark.django_db


def data_permissions() -> list[tuple[str, str, str]]:
    return sorted(Permission.objects.filter(content_type__app_label="data")
                  .values_list("content_type__model", "codename", "name"))


def test_a_new_model_gets_four_permissions(db):
    services.data_model_create(name="customers", label="Customer")

    assert data_permissions() == [
        ("customers", "add_customers", "Can add Customer"),
        ("customers", "change_customers", "Can change Customer"),
        ("customers", "delete_customers", "Can delete Customer"),
        ("customers", "view_customers", "Can view Customer"),
    ]
    assert ContentType.objects.filter(app_label="data").count() == 1


def test_the_label_defaults_to_the_name(db):
    services.data_model_create(name="orders")

    assert ("orders", "view_orders", "Can view orders") in data_permissions()


def test_a_rename_keeps_the_permissions_and_every_grant(customers, make_user):
    user = make_user("ann", "view_customers")
    ids = set(Permission.objects.filter(content_type__app_label="data", content_type__model="customers")
              .values_list("pk", flat=True))

    services.data_model_update(data_model=customers, name="clients")

    assert set(Permission.objects.filter(content_type__model="clients").values_list("pk", flat=True)) == ids
    assert not Permission.objects.filter(codename__endswith="_customers").exists()
    response = bearer(user).get(f"{BASE}/clients")
    assert response.status_code == 200
    refused = bearer(user).post(f"{BASE}/clients", {"name": "x"}, format="json")
    assert refused.json() == error(refused, "FORBIDDEN", 'You may not add records of "clients"')


def test_a_relabel_renames_the_permissions(customers):
    services.data_model_update(data_model=customers, label="Client")

    assert ("customers", "view_customers", "Can view Client") in data_permissions()


def test_deleting_a_model_drops_its_permissions_and_grants(customers, companies, make_user):
    make_user("ann", "view_customers", "view_companies")

    services.data_model_delete(data_model=DataModel.objects.get(name="customers"))

    assert {model for model, _, _ in data_permissions()} == {"companies"}
    assert list(Group.objects.get(name="group of ann").permissions.values_list("codename", flat=True)) == [
        "view_companies"
    ]
    assert not ContentType.objects.filter(app_label="data", model="customers").exists()


def test_grants_of_a_deleted_model_never_pass_to_a_new_one_of_the_same_name(customers, make_user):
    user = make_user("ann", "view_customers")
    services.data_model_delete(data_model=customers)

    services.data_model_create(name="customers", fields=[{"name": "name", "type": "text"}])

    response = bearer(user).get(f"{BASE}/customers")
    assert response.status_code == 403
    assert response.json() == error(response, "FORBIDDEN", 'You may not view records of "customers"')
    assert Group.objects.get(name="group of ann").permissions.count() == 0


def test_leftover_permissions_under_a_name_are_dropped_when_a_model_takes_it(db, make_user):
    """A content type left behind (a restored backup, a hand edit) must neither clash nor grant."""
    stale = ContentType.objects.create(app_label="data", model="clients")
    stale_view = Permission.objects.create(content_type=stale, codename="view_clients", name="Can view clients")
    group = Group.objects.create(name="old grants")
    group.permissions.add(stale_view)
    companies = services.data_model_create(name="companies")
    customers = services.data_model_create(name="customers")

    services.data_model_update(data_model=customers, name="clients")
    services.data_model_delete(data_model=companies)
    services.data_model_create(name="companies")

    assert group.permissions.count() == 0
    assert sorted(m for m, _, _ in data_permissions()) == ["clients"] * 4 + ["companies"] * 4


def test_permissions_sync_is_idempotent(customers):
    before = data_permissions()

    permissions_sync(data_model=customers, old_name="customers")

    assert data_permissions() == before


def test_superusers_have_every_permission_users_none_until_granted(customers, superuser, make_user):
    nobody = make_user("nobody")

    assert superuser.has_perm("data.delete_customers")
    assert not nobody.has_perm("data.view_customers")
    response = bearer(nobody).get(f"{BASE}/customers")
    assert response.status_code == 403
    assert bearer(superuser).get(f"{BASE}/customers").status_code == 200


def test_granting_through_a_group_in_the_admin(client, superuser, customers, make_user):
    """The admin's group form offers the data permissions; a member gets the access."""
    user = make_user("ann")
    client.force_login(superuser)
    view = Permission.objects.get(content_type__app_label="data", codename="view_customers")
    form = client.get("/admin/auth/group/add/").content.decode()
    assert f'value="{view.pk}"' in form and "Can view customers" in form

    response = client.post("/admin/auth/group/add/", {"name": "readers", "permissions": [str(view.pk)]})

    assert response.status_code == 302
    user.groups.add(Group.objects.get(name="readers"))
    assert bearer(user).get(f"{BASE}/customers").status_code == 200
    assert bearer(user).delete(f"{BASE}/customers/rec_x").status_code == 403
