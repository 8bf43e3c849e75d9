"""URL routes of the connection pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.connection_list, name="connection_list"),
    path("add/", views.connection_add, name="connection_add"),
    path("add/test/", views.connection_try_new, name="connection_try"),
    path("<int:pk>/edit/test/", views.connection_try_edit, name="connection_try_edit"),
    path("<int:pk>/", views.connection_detail, name="connection_detail"),
    path("<int:pk>/edit/", views.connection_edit, name="connection_edit"),
    path("<int:pk>/test/", views.connection_test_view, name="connection_test"),
    path("<int:pk>/sync/", views.connection_sync, name="connection_sync"),
]
