"""Integrations (API.md, "Integrations"): bots, incoming and outgoing webhooks, link previews."""
