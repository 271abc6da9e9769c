"""Every channel layer the contract suite runs over, and how to make one.

A backend registers one ``LayerKind`` per configuration to test (single host, sharded,
through Sentinel, ...). ``make(options)`` returns an async context manager yielding a
fresh, flushed layer built with those extra keyword options.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fast_channels.layers import BaseChannelLayer, InMemoryChannelLayer

LayerFactory = Callable[[pytest.FixtureRequest, dict[str, Any]], BaseChannelLayer]


@dataclass(frozen=True)
class LayerKind:
    name: str
    factory: LayerFactory
    persistent: bool = True
    """Messages to a named channel wait for a receiver that comes later."""
    shared: bool = True
    """Two layer objects built alike reach the same channels (a real backend)."""
    marks: tuple[pytest.MarkDecorator, ...] = ()

    @contextlib.asynccontextmanager
    async def make(
        self, request: pytest.FixtureRequest, **options: Any
    ) -> AsyncGenerator[BaseChannelLayer]:
        layer = self.factory(request, options)
        await layer.flush()
        try:
            yield layer
        finally:
            if not layer.closed:
                await layer.flush()
            await layer.aclose()


def _in_memory(request: pytest.FixtureRequest, options: dict[str, Any]) -> BaseChannelLayer:
    return InMemoryChannelLayer(**options)


KINDS: list[LayerKind] = [
    LayerKind("in_memory", _in_memory, shared=False),
]
