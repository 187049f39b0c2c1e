"""Accounts: users, API keys, authentication, permissions and rate limits."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
