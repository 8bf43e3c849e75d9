"""URL routes of the connection pages: the list, adding one, and one connection's pages."""

from django.urls import include, path

from . import views

one_connection = [
    path("", views.connection_detail, name="connection_detail"),
    path("edit/", views.connection_edit, name="connection_edit"),
    path("edit/test/", views.connection_try_edit, name="connection_try_edit"),
    path("test/", views.connection_test_view, name="connection_test"),
    path("sync/", views.connection_sync, name="connection_sync"),
]

urlpatterns = [
    path("", views.connection_list, name="connection_list"),
    path("add/", views.connection_add, name="connection_add"),
    path("add/test/", views.connection_try_new, name="connection_try"),
    path("<int:pk>/", include(one_connection)),
]
