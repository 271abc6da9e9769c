"""fast-channels: Django Channels-style consumers and channel layers for any ASGI app."""

__version__ = "2.0.0a1"

__all__ = ["__version__"]
