"""Search routes under /api/public/data/, included before the record routes so
`{model}/search` is never read as the record id "search"."""

from django.urls import path

from . import views

urlpatterns = [
    path("<str:model>/search", views.SearchView.as_view(), name="records-search"),
    path("<str:model>/<str:record_id>/similar", views.SimilarView.as_view(), name="records-similar"),
]
