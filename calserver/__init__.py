"""calserver: a self-hosted calendar-subscription server."""

__version__ = "0.1.0"
