"""fast-channels: Django Channels-style consumers and channel layers for any ASGI app."""

__version__ = "0.1.0"

__all__ = ["__version__"]
