"""The process-wide registry of channel layers, by alias.

Register layers once at start-up (before serving); consumers find theirs by
``channel_layer_alias`` (``"default"`` unless set). The registry is a plain dict: it is
meant to be filled at start-up, not raced over.
"""

from __future__ import annotations

from fast_channels.exceptions import (
    ConfigurationError,
    LayerAlreadyRegisteredError,
    LayerNotRegisteredError,
)
from fast_channels.layers.base import ChannelLayer

__all__ = [
    "get_channel_layer",
    "has_layers",
    "register_channel_layer",
    "registered_aliases",
    "unregister_channel_layer",
]

DEFAULT_ALIAS = "default"
_layers: dict[str, ChannelLayer] = {}


def _check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not alias:
        raise ConfigurationError(f"a layer alias must be a non-empty str, got {alias!r}")
    return alias


def register_channel_layer(alias: str, layer: ChannelLayer) -> None:
    """Register ``layer`` under ``alias``; ``LayerAlreadyRegisteredError`` if taken."""
    _check_alias(alias)
    if not isinstance(layer, ChannelLayer):
        raise TypeError(
            f"register_channel_layer({alias!r}, ...) needs a channel layer (for example "
            f"InMemoryChannelLayer()), got {type(layer).__name__}"
        )
    if alias in _layers:
        raise LayerAlreadyRegisteredError(
            f"a channel layer is already registered as {alias!r}; call "
            f"unregister_channel_layer({alias!r}) first, or check has_layers()"
        )
    _layers[alias] = layer


def get_channel_layer(alias: str = DEFAULT_ALIAS) -> ChannelLayer:
    """The layer registered under ``alias``; ``LayerNotRegisteredError`` names the others."""
    _check_alias(alias)
    layer = _layers.get(alias)
    if layer is None:
        known = ", ".join(repr(a) for a in sorted(_layers)) or "none"
        raise LayerNotRegisteredError(
            f"no channel layer is registered as {alias!r} (registered: {known}); call "
            f"register_channel_layer({alias!r}, layer) at start-up"
        )
    return layer


def unregister_channel_layer(alias: str) -> ChannelLayer | None:
    """Remove and return the layer under ``alias`` (None if there was none).

    The layer is not closed: ``await layer.aclose()`` when you are done with it.
    """
    return _layers.pop(_check_alias(alias), None)


def has_layers() -> bool:
    """Whether any layer is registered."""
    return bool(_layers)


def registered_aliases() -> list[str]:
    """The registered aliases, sorted."""
    return sorted(_layers)
