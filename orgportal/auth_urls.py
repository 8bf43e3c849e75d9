"""The accounts/ routes: sign in and out (with lockout and audit); the users, their grants, adding
and deactivating them; the one-time link where a new user sets their password."""

from django.urls import include, path

from . import auth, users

user_routes = [
    path("", users.users, name="users"),
    path("new/", users.user_add, name="user_add"),
    path("<int:pk>/deactivate/", users.user_deactivate_view, name="user_deactivate"),
    path("grants/", users.grant_create, name="grant_create"),
    path("grants/<int:pk>/revoke/", users.grant_revoke, name="grant_revoke"),
]

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("users/", include(user_routes)),
    path("set-password/<uidb64>/<token>/", users.user_set_password, name="user_set_password"),
]
