"""Routes of the accounts API under /api/."""

from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/signup", views.SignupView.as_view(), name="auth-signup"),
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", views.MeView.as_view(), name="auth-me"),
    path("auth/keys", views.KeyListView.as_view(), name="auth-keys"),
    path("auth/keys/<str:prefix>", views.KeyDetailView.as_view(), name="auth-key"),
]
