"""Accounts: users, API keys, authentication, permissions and rate limits."""

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from . import keycache
        from .models import ApiKey

        # Whatever may change what a cached key is allowed to do clears the key cache.
        user = get_user_model()
        for model in (ApiKey, user, Group):
            post_save.connect(keycache.clear, sender=model, dispatch_uid=f"keycache-save-{model.__name__}")
            post_delete.connect(keycache.clear, sender=model, dispatch_uid=f"keycache-delete-{model.__name__}")
        for through in (ApiKey.models.through, user.groups.through, user.user_permissions.through,
                        Group.permissions.through):
            m2m_changed.connect(keycache.clear, sender=through, dispatch_uid=f"keycache-m2m-{through.__name__}")
