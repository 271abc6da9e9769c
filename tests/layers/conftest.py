"""The ``make_layer`` fixture, parametrised over every layer kind in ``kinds.KINDS``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from fast_channels.layers import BaseChannelLayer
from tests.layers.kinds import KINDS, LayerKind

MakeLayer = Callable[..., Awaitable[BaseChannelLayer]]


@pytest.fixture(params=[pytest.param(k, id=k.name, marks=k.marks) for k in KINDS])
def kind(request: pytest.FixtureRequest) -> LayerKind:
    param: LayerKind = request.param
    return param


@pytest.fixture
async def make_layer(kind: LayerKind, request: pytest.FixtureRequest) -> AsyncIterator[MakeLayer]:
    """Build layers of the current kind; each is flushed and closed after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**options: Any) -> BaseChannelLayer:
            return await stack.enter_async_context(kind.make(request, **options))

        yield make


@pytest.fixture
async def layer(make_layer: MakeLayer) -> BaseChannelLayer:
    """A layer of the current kind with default options."""
    return await make_layer()
