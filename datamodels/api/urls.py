"""Routes of the records API under /api/public/data/."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("search.api.urls")),  # first: `{model}/search` is no record id
    path("<str:model>", views.RecordListView.as_view(), name="records"),
    path("<str:model>/<str:record_id>", views.RecordDetailView.as_view(), name="record"),
]
