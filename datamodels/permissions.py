"""Django permissions per data model (view/add/change/delete), kept in step with the models.

Each data model has a content type `data.<name>` and four permissions
`data.view_<name>`, `data.add_<name>`, `data.change_<name>`, `data.delete_<name>`,
granted to users through groups in the admin. The definition services call these
in the same transaction as the model change.
"""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

APP_LABEL = "data"
ACTIONS = ("view", "add", "change", "delete")


def permission_name(action: str, model_name: str) -> str:
    """The string `user.has_perm` takes, e.g. `data.view_customers`."""
    return f"{APP_LABEL}.{action}_{model_name}"


def permissions_sync(*, data_model, old_name: str | None = None) -> None:
    """Create the model's permissions, or carry them over to its new name."""
    content_type, _ = ContentType.objects.get_or_create(app_label=APP_LABEL, model=old_name or data_model.name)
    if content_type.model != data_model.name:
        content_type.model = data_model.name
        content_type.save(update_fields=["model"])
        ContentType.objects.clear_cache()
    existing = {p.codename.split("_", 1)[0]: p for p in Permission.objects.filter(content_type=content_type)}
    label = data_model.label or data_model.name
    for action in ACTIONS:
        permission = existing.get(action) or Permission(content_type=content_type)
        permission.codename = f"{action}_{data_model.name}"
        permission.name = f"Can {action} {label}"
        permission.save()


def permissions_delete(*, data_model) -> None:
    ContentType.objects.filter(app_label=APP_LABEL, model=data_model.name).delete()
    ContentType.objects.clear_cache()
