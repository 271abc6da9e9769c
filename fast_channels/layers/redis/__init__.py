"""The Redis channel layers (``pip install fast-channels[redis]``)."""

__all__: list[str] = []
