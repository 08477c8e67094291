"""Reaching people who are away: e-mail digests and Web Push (docs/notifications.md).

`owed` decides who is owed what for new messages, `consumer` reads the stream and records it,
`digests` turns what is still unread after the delay into e-mails, `mailer` and `pusher` hand
them to SMTP and to push services; `runner` runs those loops in every server process.
"""
