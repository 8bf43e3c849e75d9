"""Adding and deactivating users, and the one-time link where a new user sets their password
(mounted at accounts/, beside sign-in and the grants)."""

from django.urls import path

from . import users

urlpatterns = [
    path("users/new/", users.user_add, name="user_add"),
    path("users/<int:pk>/deactivate/", users.user_deactivate_view, name="user_deactivate"),
    path("set-password/<uidb64>/<token>/", users.user_set_password, name="user_set_password"),
]
