"""Parlour: a self-hosted team chat server."""

__version__ = "0.1.0"
