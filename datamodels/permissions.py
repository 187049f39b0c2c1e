"""Django permissions per data model (view/add/change/delete), kept in step with the models.

Each data model has a content type `data.<name>` and four permissions
`data.view_<name>`, `data.add_<name>`, `data.change_<name>`, `data.delete_<name>`,
granted to users through groups in the admin. The definition services call these
in the same transaction as the model change, so a rename keeps every grant and a
deleted model's grants never pass to a later model of the same name.
"""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

APP_LABEL = "data"
ACTIONS = ("view", "add", "change", "delete")


def permission_name(action: str, model_name: str) -> str:
    """The string `user.has_perm` takes, e.g. `data.view_customers`."""
    return f"{APP_LABEL}.{action}_{model_name}"


def permissions_sync(*, data_model, old_name: str | None = None) -> None:
    """Create the model's permissions, or carry them over to its new name.

    `old_name` is the model's name before this change (the same name when only the
    label changed); None means the model is new.
    """
    if old_name != data_model.name:
        # Leftovers under the new name (no live model has it) must not grant anything.
        _drop_content_type(data_model.name)
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
    """Drop the model's permissions, and with them every grant to groups and users."""
    _drop_content_type(data_model.name)


def _drop_content_type(model_name: str) -> None:
    ContentType.objects.filter(app_label=APP_LABEL, model=model_name).delete()
    ContentType.objects.clear_cache()
