"""Notifications: what people are told (kinds), through which channels (Web Push, FCM,
SMS, e-mail), in Russian and English, with retries and a dead letter; pure data and
rules (no I/O). See notifications.model and notifications.ports."""
