"""How serving a connection ends: the first outcome wins, and the source tasks are stopped
for good (see :mod:`fast_channels.consumer.base`)."""

from __future__ import annotations

import asyncio

__all__ = ["end_serving", "stop_tasks"]


def end_serving(ended: asyncio.Future[None], exc: BaseException) -> None:
    """End serving with ``exc`` (the first one wins: the consumer's app raises it). Called
    before any other task can run, so the other source finds ``ended`` done and starts no
    handler."""
    if ended.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        ended.cancel()  # a handler cancelled on its own: the app ends cancelled, as ever
    else:
        ended.set_exception(exc)


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> asyncio.CancelledError | None:
    """Cancel ``tasks`` and wait until every one has ended (a handler may clean up first).

    Cancelled while it waits, it cancels the tasks still running again (so a cleanup that
    awaits is interrupted as it would be in the caller's task) and goes on waiting; it
    returns that cancellation, for the caller to raise once its own cleanup is done.
    """
    for task in tasks:
        task.cancel()
    pending = set(tasks)
    interrupted: asyncio.CancelledError | None = None
    while pending:
        try:
            _, pending = await asyncio.wait(pending)
        except asyncio.CancelledError as exc:
            interrupted = exc
            for task in pending:
                task.cancel()
    for task in tasks:  # retrieved, so none is reported as never retrieved
        if not task.cancelled():
            task.exception()
    return interrupted
