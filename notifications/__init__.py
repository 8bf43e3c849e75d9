"""Reminders and notifications: events from observed changes and from the clock, delivered by
email, Slack, Teams and signed webhooks, and a per-user calendar feed."""
