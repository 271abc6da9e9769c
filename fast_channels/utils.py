"""fast-channels 1.x's helpers (a compatibility path).

Consumers no longer use :func:`await_many_dispatch`: they serve the client and the layer
with one task per source (:mod:`fast_channels.consumer.base`). It remains for code that
called it. :func:`is_same_domain` is the host rule ``OriginValidator`` applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from fast_channels.middleware.websocket import is_same_domain

__all__ = ["await_many_dispatch", "is_same_domain"]

_T = TypeVar("_T")

logger: logging.Logger = logging.getLogger("fast_channels.utils")


async def await_many_dispatch(
    consumer_callables: Sequence[Callable[[], Awaitable[_T]]],
    dispatch: Callable[[_T], Awaitable[None]],
) -> None:
    """Wait on every callable at once; ``await dispatch(result)`` for each result as it
    comes, then call that callable again.

    Results that are ready together are dispatched in the order of ``consumer_callables``,
    one at a time. It runs until a callable or ``dispatch`` raises (``StopConsumer``, for
    example); then the pending calls are cancelled and awaited, and the exception
    propagates. A result that was ready but not yet dispatched then is dropped.
    """
    if not consumer_callables:
        raise ValueError("await_many_dispatch() needs at least one callable to wait on")
    tasks: list[asyncio.Future[_T]] = [asyncio.ensure_future(c()) for c in consumer_callables]
    raised: BaseException | None = None
    try:
        while True:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for index, task in enumerate(tasks):
                if task.done():
                    result = task.result()
                    tasks[index] = asyncio.ensure_future(consumer_callables[index]())
                    await dispatch(result)
    except BaseException as exc:
        raised = exc
        raise
    finally:
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception) and outcome is not raised:
                logger.error("await_many_dispatch: a callable also failed: %r", outcome)
