"""The process-wide registry of channel layers, by alias.

Register layers once at start-up (before serving); consumers find theirs by
``channel_layer_alias`` (``"default"`` unless set). The registry is a plain dict: it is
meant to be filled at start-up, not raced over.

The functions act on :data:`channel_layers`, the process-wide
:class:`ChannelLayerRegistry` (both names of fast-channels 1.x, kept):
``register_channel_layer(alias, layer)`` is ``channel_layers.register(alias, layer)``.
"""

from __future__ import annotations

from fast_channels.exceptions import (
    ConfigurationError,
    LayerAlreadyRegisteredError,
    LayerNotRegisteredError,
)
from fast_channels.layers.base import ChannelLayer

__all__ = [
    "ChannelLayerRegistry",
    "channel_layers",
    "get_channel_layer",
    "has_layers",
    "register_channel_layer",
    "registered_aliases",
    "unregister_channel_layer",
]

DEFAULT_ALIAS = "default"


def _check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not alias:
        raise ConfigurationError(f"a layer alias must be a non-empty str, got {alias!r}")
    return alias


class ChannelLayerRegistry:
    """Channel layers by alias. :data:`channel_layers` is the one consumers use.

    Differences from fast-channels 1.x: registering a taken alias raises
    ``LayerAlreadyRegisteredError`` (1.x replaced the layer silently), and
    ``registry[alias]`` for a missing alias raises ``LayerNotRegisteredError``, a
    ``LookupError`` (1.x raised ``KeyError``). ``get(alias)`` still returns None.
    """

    def __init__(self) -> None:
        self._layers: dict[str, ChannelLayer] = {}

    def register(self, alias: str, layer: ChannelLayer) -> None:
        """Register ``layer`` under ``alias``; ``LayerAlreadyRegisteredError`` if taken."""
        _check_alias(alias)
        if not isinstance(layer, ChannelLayer):
            raise TypeError(
                f"register_channel_layer({alias!r}, ...) needs a channel layer (for example "
                f"InMemoryChannelLayer()), got {type(layer).__name__}"
            )
        if alias in self._layers:
            raise LayerAlreadyRegisteredError(
                f"a channel layer is already registered as {alias!r}; call "
                f"unregister_channel_layer({alias!r}) first, or check has_layers()"
            )
        self._layers[alias] = layer

    def unregister(self, alias: str) -> ChannelLayer | None:
        """Remove and return the layer under ``alias`` (None if there was none).

        The layer is not closed: ``await layer.aclose()`` when you are done with it.
        """
        return self._layers.pop(_check_alias(alias), None)

    def get(self, alias: str) -> ChannelLayer | None:
        """The layer under ``alias``, or None."""
        return self._layers.get(_check_alias(alias))

    def __getitem__(self, alias: str) -> ChannelLayer:
        """The layer under ``alias``; ``LayerNotRegisteredError`` names the others."""
        layer = self.get(alias)
        if layer is None:
            known = ", ".join(repr(a) for a in sorted(self._layers)) or "none"
            raise LayerNotRegisteredError(
                f"no channel layer is registered as {alias!r} (registered: {known}); call "
                f"register_channel_layer({alias!r}, layer) at start-up"
            )
        return layer

    def __contains__(self, alias: object) -> bool:
        """Whether a layer is registered under ``alias``."""
        return alias in self._layers

    def __len__(self) -> int:
        """How many layers are registered."""
        return len(self._layers)

    def list_aliases(self) -> list[str]:
        """The registered aliases, sorted."""
        return sorted(self._layers)

    def clear(self) -> None:
        """Unregister every layer (none is closed)."""
        self._layers.clear()


channel_layers: ChannelLayerRegistry = ChannelLayerRegistry()
"""The process-wide registry that consumers and the functions below use."""


def register_channel_layer(alias: str, layer: ChannelLayer) -> None:
    """Register ``layer`` under ``alias``; ``LayerAlreadyRegisteredError`` if taken."""
    channel_layers.register(alias, layer)


def get_channel_layer(alias: str = DEFAULT_ALIAS) -> ChannelLayer:
    """The layer registered under ``alias``; ``LayerNotRegisteredError`` names the others.

    (fast-channels 1.x returned None for a missing alias: ``channel_layers.get(alias)``
    still does.)
    """
    return channel_layers[alias]


def unregister_channel_layer(alias: str) -> ChannelLayer | None:
    """Remove and return the layer under ``alias`` (None if there was none).

    The layer is not closed: ``await layer.aclose()`` when you are done with it.
    """
    return channel_layers.unregister(alias)


def has_layers() -> bool:
    """Whether any layer is registered."""
    return len(channel_layers) > 0


def registered_aliases() -> list[str]:
    """The registered aliases, sorted."""
    return channel_layers.list_aliases()
