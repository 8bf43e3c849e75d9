"""Routes of the notification pages, the calendar feed and the unsubscribe link."""

from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("settings/", views.notification_settings, name="settings"),
    path("settings/<int:pk>/subscribe/", views.subscribe, name="subscribe"),
    path("settings/<int:pk>/reminders/", views.connection_settings, name="connection_settings"),
    path("settings/<int:pk>/channels/add/", views.channel_add, name="channel_add"),
    path("settings/<int:pk>/email-test/", views.email_test, name="email_test"),
    path("channels/<int:pk>/test/", views.channel_test, name="channel_test"),
    path("channels/<int:pk>/delete/", views.channel_delete, name="channel_delete"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="retry"),
    path("calendar/rotate/", views.calendar_rotate, name="calendar_rotate"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
