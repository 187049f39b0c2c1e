"""Data models: definitions, the schema engine behind real tables, and the records API."""

from django.apps import AppConfig


class DatamodelsConfig(AppConfig):
    name = "datamodels"
    verbose_name = "Data models"
