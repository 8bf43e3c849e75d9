"""Sign in and out (with lockout and audit), and users and grants (mounted at accounts/)."""

from django.urls import path

from . import auth, users

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("users/", users.users, name="users"),
    path("users/grants/", users.grant_create, name="grant_create"),
    path("users/grants/<int:pk>/revoke/", users.grant_revoke, name="grant_revoke"),
]
