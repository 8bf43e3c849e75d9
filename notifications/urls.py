"""Routes of the notification pages, the calendar feed and the unsubscribe link."""

from django.urls import include, path

from . import views

app_name = "notifications"

# One connection's section of the settings page.
connection_settings = [
    path("subscribe/", views.subscribe, name="subscribe"),
    path("reminders/", views.connection_settings, name="connection_settings"),
    path("channels/add/", views.channel_add, name="channel_add"),
    path("email-test/", views.email_test, name="email_test"),
]

one_channel = [
    path("test/", views.channel_test, name="channel_test"),
    path("delete/", views.channel_delete, name="channel_delete"),
]

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("settings/", views.notification_settings, name="settings"),
    path("settings/<int:pk>/", include(connection_settings)),
    path("channels/<int:pk>/", include(one_channel)),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="retry"),
    path("calendar/rotate/", views.calendar_rotate, name="calendar_rotate"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
