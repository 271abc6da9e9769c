"""The layer registry: aliases, duplicates, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from fast_channels.exceptions import (
    ConfigurationError,
    LayerAlreadyRegisteredError,
    LayerNotRegisteredError,
)
from fast_channels.layers import (
    InMemoryChannelLayer,
    get_channel_layer,
    has_layers,
    register_channel_layer,
    registered_aliases,
    unregister_channel_layer,
)


def test_register_get_unregister() -> None:
    assert not has_layers()
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    register_channel_layer("memory", InMemoryChannelLayer())
    assert has_layers()
    assert get_channel_layer() is layer
    assert registered_aliases() == ["default", "memory"]
    assert unregister_channel_layer("default") is layer
    assert unregister_channel_layer("default") is None
    assert registered_aliases() == ["memory"]


def test_a_taken_alias_is_refused_with_the_way_out() -> None:
    register_channel_layer("default", InMemoryChannelLayer())
    with pytest.raises(LayerAlreadyRegisteredError, match=r"unregister_channel_layer\('default'\)"):
        register_channel_layer("default", InMemoryChannelLayer())


def test_unknown_alias_lists_the_registered_ones() -> None:
    with pytest.raises(LayerNotRegisteredError, match=r"registered: none"):
        get_channel_layer("nope")
    register_channel_layer("b", InMemoryChannelLayer())
    register_channel_layer("a", InMemoryChannelLayer())
    with pytest.raises(LayerNotRegisteredError, match=r"registered: 'a', 'b'"):
        get_channel_layer("nope")


@pytest.mark.parametrize("alias", ["", None, 3])
def test_aliases_must_be_non_empty_str(alias: Any) -> None:
    with pytest.raises(ConfigurationError, match="non-empty str"):
        register_channel_layer(alias, InMemoryChannelLayer())
    with pytest.raises(ConfigurationError, match="non-empty str"):
        get_channel_layer(alias)


def test_only_channel_layers_can_be_registered() -> None:
    not_a_layer: Any = object()
    with pytest.raises(TypeError, match="needs a channel layer"):
        register_channel_layer("default", not_a_layer)
