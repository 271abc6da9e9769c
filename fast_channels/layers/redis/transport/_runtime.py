"""One runtime per (process, event loop): the one place that knows about forks and loops.

A Redis layer keeps connections, tasks and readers, and all of them belong to one event
loop of one process. :class:`Runtimes` gives the layer the :class:`Runtime` of the running
loop, built on first use there: the transport's :class:`~.base.Link` and the layer's own
*part* (its readers, its subscriptions), made from the link by the layer's ``build``.

* **A new loop** (pytest-asyncio's loop per test, the sync API's loop thread, a second
  ``asyncio.run``) gets a runtime of its own. A keeper task on each loop waits until it is
  cancelled, which ``asyncio.run``, ``asyncio.Runner`` and the sync API's loop thread do
  to every task before they close a loop, and then closes the part, then the link, on
  that loop while it can still close them. A loop closed without that is dropped the next
  time the layer is used elsewhere.
* **A fork** (Celery's prefork pool, ``multiprocessing`` with ``fork``): one hook bumps
  :func:`process_generation` in the child, and every :class:`Runtimes` then starts afresh
  on its next use. The parent's runtimes stay referenced and are never used: collecting
  them would run their tasks' cleanup in the child, on sockets the parent still uses.
* **Work for another loop** (a sync caller, a subscription held by another thread's loop)
  is handed to that loop with :func:`run_in`, never run on the wrong one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Generic, Protocol, TypeVar

from fast_channels.exceptions import LayerClosedError
from fast_channels.layers.redis._pipe import Script
from fast_channels.layers.redis.transport.base import Link, Transport

__all__ = ["CANCEL_AGAIN", "Part", "Runtime", "Runtimes", "process_generation", "run_in", "stop"]

CANCEL_AGAIN = 0.5
"""Seconds a stopped task is given to end before it is cancelled again (see :func:`stop`)."""

T = TypeVar("T")


class _Forks:
    generation = 0
    parents: list[object] = []


def _after_fork_in_child() -> None:
    _Forks.generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def process_generation() -> int:
    """A number that changes in every forked child: what was made under another number
    belongs to a parent process."""
    return _Forks.generation


async def stop(end: Callable[[], Awaitable[object]]) -> None:
    """Await ``end()`` (which cancels a task and waits for it), again every
    :data:`CANCEL_AGAIN` seconds until it returns.

    On Python 3.11 a cancellation that lands just as ``asyncio.wait_for`` sees its inner
    task finish is swallowed, and redis-py wraps its writes (a connection's handshake
    among them) in ``asyncio.wait_for``: a task cancelled once while it connects may go on
    as if nothing happened.
    """
    ending = asyncio.ensure_future(end())
    while True:
        done, _ = await asyncio.wait({ending}, timeout=CANCEL_AGAIN)
        if done:
            ending.result()
            return
        ending = asyncio.ensure_future(end())


async def run_in(
    loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[object, object, T]]
) -> T:
    """Run ``make()`` on ``loop``: here if it is the running loop, else handed to it (it
    runs in another thread) and awaited. ``LayerClosedError`` if ``loop`` no longer runs."""
    if loop is asyncio.get_running_loop():
        return await make()
    if loop.is_closed() or not loop.is_running():
        raise LayerClosedError("the event loop that holds this work has stopped")
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), loop))


class Part(Protocol):
    """What a layer keeps in one event loop besides the link (readers, subscriptions)."""

    async def aclose(self) -> None:
        """Stop its tasks and let go of its connections (run on its loop)."""
        ...


P = TypeVar("P", bound=Part)


class Runtime(Generic[P]):
    """A layer's link and part in one event loop, and the keeper that closes them when the
    loop ends (or :meth:`aclose` is called)."""

    __slots__ = ("_cleaned", "closed", "generation", "keeper", "link", "loop", "part")

    def __init__(self, link: Link, build: Callable[[Link], P], *, name: str) -> None:
        self.loop: asyncio.AbstractEventLoop = asyncio.get_running_loop()
        self.generation: int = _Forks.generation
        self.link: Link = link
        self.part: P = build(link)
        self.closed: bool = False
        """True once closing began: the layer gets a new runtime if the loop is used again."""
        self._cleaned = False
        self.keeper: asyncio.Task[None] = self.loop.create_task(self._keep(), name=name)

    async def _keep(self) -> None:
        try:
            await self.loop.create_future()
        finally:
            await self._clean()

    async def _clean(self) -> None:
        self.closed = True
        if self._cleaned:
            return
        self._cleaned = True
        try:
            await stop(self.part.aclose)
        finally:
            await stop(self.link.aclose)

    async def aclose(self) -> None:
        """Close the part, then the link, and wait for it (call it on this loop)."""
        self.closed = True
        self.keeper.cancel()
        await asyncio.gather(self.keeper, return_exceptions=True)
        await self._clean()  # a keeper cancelled before its first step never ran it

    def close_threadsafe(self) -> None:
        """From any thread: close when this loop next runs (nothing if it is closed)."""
        self.closed = True
        if not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in the meantime
                self.loop.call_soon_threadsafe(self.keeper.cancel)


class Runtimes(Generic[P]):
    """The runtimes of one layer in this process, one per event loop, made on first use.

    ``build(link)`` makes the layer's part of a new runtime; ``scripts`` and ``limits`` go
    to :meth:`Transport.link <.base.Transport.link>`.
    """

    def __init__(
        self,
        transport: Transport,
        build: Callable[[Link], P],
        *,
        scripts: Sequence[Script] = (),
        limits: bool = False,
        name: str = "fast-channels runtime",
    ) -> None:
        self.transport: Transport = transport
        self._build = build
        self._scripts = tuple(scripts)
        self._limits = limits
        self._name = name
        self._generation = _Forks.generation
        self._held: dict[asyncio.AbstractEventLoop, Runtime[P]] = {}
        self._last: Runtime[P] | None = None
        self._closed = False

    def current(self) -> Runtime[P]:
        """The running loop's runtime (made now if there is none, or it was closed, or it
        belongs to a parent process). ``LayerClosedError`` after :meth:`aclose`."""
        last = self._last
        if (
            last is not None
            and last.loop is asyncio.get_running_loop()
            and not last.closed
            and last.generation == _Forks.generation
        ):
            return last
        return self._find()

    def _find(self) -> Runtime[P]:
        if self._closed:
            raise LayerClosedError("the channel layer is closed; create a new one")
        if self._generation != _Forks.generation:
            # A forked child: the parent's runtimes are kept, never used nor collected.
            _Forks.parents.append((self._held, self._last))
            self._held, self._last = {}, None
            self._generation = _Forks.generation
        loop = asyncio.get_running_loop()
        for other in [other for other in self._held if other.is_closed()]:
            # Closed without cancelling its tasks, so its keeper never ran.
            _Forks.parents.append(self._held.pop(other))
        runtime = self._held.get(loop)
        if runtime is None or runtime.closed:
            link = self.transport.link(scripts=self._scripts, limits=self._limits)
            runtime = self._held[loop] = Runtime(link, self._build, name=self._name)
        self._last = runtime
        return runtime

    def held(self) -> list[Runtime[P]]:
        """This process's runtimes that are not closed."""
        if self._generation != _Forks.generation:
            return []
        return [runtime for runtime in self._held.values() if not runtime.closed]

    async def aclose(self) -> None:
        """Close every runtime: the running loop's now, one of a loop running in another
        thread there (awaited), the others when their loop next runs. Later
        :meth:`current` calls raise ``LayerClosedError``."""
        self._closed = True
        held, self._held, self._last = self.held(), {}, None
        running = asyncio.get_running_loop()
        for runtime in held:
            if runtime.loop is running:
                await runtime.aclose()
            elif runtime.loop.is_running():
                with contextlib.suppress(LayerClosedError, RuntimeError):
                    await run_in(runtime.loop, runtime.aclose)
            else:
                runtime.close_threadsafe()
