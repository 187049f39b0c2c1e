"""Data models: definitions, the schema engine behind real tables, and the records API."""

from django.apps import AppConfig


class DatamodelsConfig(AppConfig):
    name = "datamodels"
    verbose_name = "Data"  # the admin section; its model reads "Data models" (not "Data models › Data models")
