"""The public surface: every public module's ``__all__`` is complete, sorted and importable."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = [
    "fast_channels.consumer",
    "fast_channels.consumer.app",
    "fast_channels.consumer.base",
    "fast_channels.consumer.http",
    "fast_channels.consumer.sync",
    "fast_channels.consumer.websocket",
    "fast_channels.exceptions",
    "fast_channels.integrations",
    "fast_channels.integrations.litestar",
    "fast_channels.integrations.quart",
    "fast_channels.layers",
    "fast_channels.layers.base",
    "fast_channels.layers.contract",
    "fast_channels.layers.group_options",
    "fast_channels.layers.history",
    "fast_channels.layers.in_memory",
    "fast_channels.layers.names",
    "fast_channels.layers.presence",
    "fast_channels.layers.redis",
    "fast_channels.layers.redis.core",
    "fast_channels.layers.redis.pubsub",
    "fast_channels.layers.redis.queue",
    "fast_channels.layers.redis.serializers",
    "fast_channels.layers.redis.type_defs",
    "fast_channels.layers.redis.utils",
    "fast_channels.layers.registry",
    "fast_channels.middleware",
    "fast_channels.middleware.auth",
    "fast_channels.middleware.base",
    "fast_channels.middleware.websocket",
    "fast_channels.routing",
    "fast_channels.serialization",
    "fast_channels.status",
    "fast_channels.sync",
    "fast_channels.testing",
    "fast_channels.testing.application",
    "fast_channels.testing.http",
    "fast_channels.testing.websocket",
    "fast_channels.type_defs",
    "fast_channels.types",
    "fast_channels.utils",
    "fast_channels.worker",
]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's (RUF022) order: CONSTANTS, then Classes, then functions; each alphabetical."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_unique_and_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported: list[str] = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key), f"{module_name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{module_name}.__all__ has duplicates"
    for name in exported:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_complete(module_name: str) -> None:
    """Every public class/function defined in the module is exported by it."""
    module = importlib.import_module(module_name)
    defined_here = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module_name
    }
    missing = defined_here - set(module.__all__)
    assert not missing, f"{module_name} defines public {sorted(missing)} outside __all__"


def test_readme_import_paths() -> None:
    from fast_channels.consumer.websocket import AsyncWebsocketConsumer
    from fast_channels.layers import (
        InMemoryChannelLayer,
        has_layers,
        register_channel_layer,
    )
    from fast_channels.testing import WebsocketCommunicator

    assert all(
        callable(obj)
        for obj in (
            AsyncWebsocketConsumer,
            InMemoryChannelLayer,
            has_layers,
            register_channel_layer,
            WebsocketCommunicator,
        )
    )
