"""Routes of the records API under /api/public/data/."""

from django.urls import include, path

from . import export_views, views

urlpatterns = [
    path("", include("search.api.urls")),  # first: `{model}/search` is no record id
    path("<str:model>", views.RecordListView.as_view(), name="records"),
    path("<str:model>/export", export_views.RecordExportView.as_view(), name="records-export"),
    path("<str:model>/<str:record_id>", views.RecordDetailView.as_view(), name="record"),
]
