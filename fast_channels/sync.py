"""Call a channel layer from code that is not async: threads, RQ/Celery tasks, Flask/Django views.

::

    layer = get_channel_layer()            # any channel layer
    layer.group_send_sync("chat", {"type": "chat.message", "text": "build finished"})

Every ``*_sync`` method (and :func:`run`) hands its coroutine to **one event loop per
process**, running in a daemon thread named ``fast-channels-sync``, and blocks the calling
thread until it is done. What follows from that:

* **No event loop to manage.** The thread starts on the first call.
* **Any number of threads at once.** Calls from one thread run one after the other, so the
  FIFO-per-channel guarantee holds for each calling thread; calls from different threads
  interleave.
* **Same results and errors as the async methods**: ``ChannelFull``,
  ``InvalidChannelNameError``, ``LayerConnectionError`` ... are raised in the calling thread.
* **No connection leak.** Layers that keep connections per event loop (the Redis layers)
  open one pool for this loop, shared by every calling thread and reused by every call. It
  is released, together with the thread, at interpreter exit or by :func:`shutdown`.
* **Never from async code.** Called while an event loop runs in the calling thread, a sync
  method raises :class:`~fast_channels.exceptions.SyncCalledFromAsyncError` at once instead
  of blocking that loop (which would stall every other task, or deadlock): ``await
  layer.send(...)`` there. Threads started by the loop (``asyncio.to_thread``, Starlette's
  thread pool for sync endpoints) have no running loop and may use the sync API.
* **Interrupted calls.** When the calling thread stops waiting because an exception is
  raised in it (Ctrl-C's ``KeyboardInterrupt``, a signal handler's ``SystemExit``), the
  call is cancelled on the loop, and the exception propagates once it has ended (as
  ``asyncio.run`` does with its task on Ctrl-C; at most ``ABANDON_WAIT`` seconds). A
  cancelled ``receive()`` loses no message: the next one gets it.
* **fork()**: a child process (Celery's prefork pool, ``multiprocessing`` with ``fork``) never
  uses its parent's loop thread; it starts its own on its first call.
* **Threads started by** :func:`to_thread` (the handlers of the synchronous consumers run
  in them) are an exception: there, sync calls run on the event loop that started the
  thread, the one the connection and its layer already use, while the thread waits.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from fast_channels.exceptions import LayerClosedError, SyncCalledFromAsyncError
from fast_channels.types import Message

if TYPE_CHECKING:
    from fast_channels.layers.base import ChannelLayer

__all__ = ["THREAD_NAME", "SyncLayerMethods", "run", "shutdown", "to_thread"]

logger: logging.Logger = logging.getLogger("fast_channels.sync")

THREAD_NAME = "fast-channels-sync"
"""The name of the loop thread (one per process while the sync API is in use)."""

ABANDON_WAIT = 5.0
"""Seconds an interrupted sync call is waited for, once cancelled, before it is left."""

_P = ParamSpec("_P")
_T = TypeVar("_T")

_HOME_LOOP: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "fast_channels_sync_home_loop", default=None
)
"""In a thread started by :func:`to_thread`: the event loop that started it."""


class _LoopResources(Protocol):
    """A layer the sync loop thread tells to let go of this loop's resources."""

    async def release_loop_resources(self) -> None:
        """Release what is held for the running loop only; the layer stays usable."""
        ...


class _Call(concurrent.futures.Future[_T]):
    """The future of one sync call, and the task that runs it on the loop thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.task: asyncio.Future[_T] | None = None

    def abandon(self) -> None:
        """The caller stops waiting (an exception such as KeyboardInterrupt in its thread):
        cancel the call, and wait until it has ended (at most ``ABANDON_WAIT`` seconds: a
        call that ignores cancellation, or a stuck loop, is left with a warning). A call
        that has started is cancelled on the loop, so that a cancel-safe one (``receive()``)
        takes no message nobody sees.
        """
        if self.cancel():
            return  # it had not started
        with contextlib.suppress(RuntimeError):  # the loop is closed: so is the call
            self.loop.call_soon_threadsafe(self._cancel_task)
        done, _ = concurrent.futures.wait([self], timeout=ABANDON_WAIT)
        if not done:
            logger.warning(
                "an interrupted sync call did not end within %ss of its cancellation; "
                "it is left running on the %s thread",
                ABANDON_WAIT,
                THREAD_NAME,
            )

    def _cancel_task(self) -> None:
        if self.task is not None:
            self.task.cancel()


class _LoopThread:
    """One event loop in one daemon thread, running the coroutines of sync calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.users: weakref.WeakSet[_LoopResources] = weakref.WeakSet()
        self.pending: set[concurrent.futures.Future[Any]] = set()
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._main, name=THREAD_NAME, daemon=True)
        self.thread.start()

    def submit(self, awaitable: Callable[[], Awaitable[_T]]) -> _Call[_T]:
        """Start ``awaitable()`` on the loop; the future settles when it is done."""
        future = _Call[_T](self.loop)

        def start() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the caller gave up before it started
            try:
                task = future.task = asyncio.ensure_future(awaitable())
            except BaseException as exc:
                future.set_exception(exc)
                return
            task.add_done_callback(lambda t: _settle(t, future))

        def on_done(f: concurrent.futures.Future[_T]) -> None:
            with self.lock:
                self.pending.discard(f)

        with self.lock:
            if self.closed:
                raise LayerClosedError(_STOPPED)
            self.pending.add(future)
            self.loop.call_soon_threadsafe(start)
        future.add_done_callback(on_done)
        return future

    def _main(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(self._release())
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                with self.lock:
                    self.closed = True
                    stranded = list(self.pending)
                for future in stranded:
                    if not future.done():
                        future.set_exception(LayerClosedError(_STOPPED))
                loop.close()

    async def _release(self) -> None:
        for user in list(self.users):
            try:
                await user.release_loop_resources()
            except Exception:
                logger.exception("could not release %r's connections of the sync loop", user)

    def stop(self, timeout: float) -> None:
        """Release the layers' resources of this loop, stop it and join the thread."""
        with self.lock:
            if not self.closed:
                self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)


_STOPPED = (
    "the sync API's event loop thread was stopped (shutdown() or interpreter exit) before "
    "this call completed; call again to start a new one"
)
_lock = threading.Lock()
_current: _LoopThread | None = None
_exiting = False
_orphans: list[_LoopThread] = []


def _settle(task: asyncio.Future[_T], future: concurrent.futures.Future[_T]) -> None:
    if future.done():
        return
    if task.cancelled():
        future.set_exception(LayerClosedError(_STOPPED))
        return
    exc = task.exception()
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(task.result())


def _loop_thread() -> _LoopThread:
    global _current
    with _lock:
        if _current is None or _current.closed or not _current.thread.is_alive():
            if _exiting:
                raise LayerClosedError(
                    "the sync API cannot start its event loop thread: the interpreter is exiting"
                )
            _current = _LoopThread()
        return _current


def _check_no_running_loop(what: str, instead: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise SyncCalledFromAsyncError(
        f"{what} was called from async code (an event loop is running in this thread); "
        f"blocking here would stall that loop. Use `{instead}` instead"
    )


def _wait(future: _Call[_T]) -> _T:
    try:
        return future.result()
    except BaseException:
        if not future.done():
            future.abandon()
        raise


def run(function: Callable[_P, Awaitable[_T]], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``await function(*args, **kwargs)`` on the sync API's loop; return its result.

    Blocks the calling thread until it is done and raises what it raises. Use it for layer
    methods without a ``*_sync`` twin, or any ``ChannelLayer``: ``run(layer.send, ch, msg)``.
    An exception raised in the calling thread while it waits (``KeyboardInterrupt``)
    cancels the call on the loop, and propagates once the call has ended. In a thread of
    :func:`to_thread`, it runs on the loop that started the thread instead.
    Raises :class:`~fast_channels.exceptions.SyncCalledFromAsyncError` (and does not call
    ``function``) when an event loop runs in the calling thread.
    """
    name = getattr(function, "__qualname__", repr(function))
    _check_no_running_loop(f"fast_channels.sync.run({name})", f"await {name}(...)")
    home = _HOME_LOOP.get()
    if home is not None:
        return _run_at_home(home, lambda: function(*args, **kwargs))
    return _wait(_loop_thread().submit(lambda: function(*args, **kwargs)))


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _run_at_home(home: asyncio.AbstractEventLoop, awaitable: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``await awaitable()`` on ``home`` (the loop that started this thread) and wait."""
    try:
        future = asyncio.run_coroutine_threadsafe(_awaited(awaitable()), home)
    except RuntimeError as exc:  # the loop is closed
        raise LayerClosedError(
            f"the event loop that started this thread has stopped ({exc}); the call was not made"
        ) from None
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


async def to_thread(function: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``function(*args, **kwargs)`` in the event loop's default thread pool, as
    :func:`asyncio.to_thread` does, and return its result.

    In that thread the sync API (``layer.send_sync(...)``, :func:`run`) runs its calls on
    this event loop, where the layer's connections already live, while the thread waits:
    no second loop, no second connection pool, and the calls of one thread stay in order.
    The thread sees a copy of the caller's ``contextvars``. Cancelling the await does not
    stop the thread: ``function`` runs to its end.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    context.run(_HOME_LOOP.set, loop)
    call = functools.partial(context.run, function, *args, **kwargs)
    return await loop.run_in_executor(None, call)


def shutdown(timeout: float = 10.0) -> None:
    """Release the connections the sync API opened, and stop its loop thread.

    Called at interpreter exit; call it yourself to release them earlier (for example when a
    pool worker process retires). A later sync call starts a new loop thread. Calls still
    running get ``LayerClosedError``. Waits at most ``timeout`` seconds for the thread.
    """
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None:
        current.stop(timeout)


def _at_exit() -> None:
    global _exiting
    with _lock:
        _exiting = True
    shutdown()


def _after_fork_in_child() -> None:
    global _current, _lock
    _lock = threading.Lock()
    if _current is not None:
        # The parent's loop thread does not exist here. Keep its loop referenced so that
        # nothing tries to close the parent's connections from this process.
        _orphans.append(_current)
    _current = None


atexit.register(_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)


def _call_sync(
    layer: _LoopResources,
    what: str,
    function: Callable[_P, Awaitable[None]],
    /,
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> None:
    _check_no_running_loop(f"layer.{what}_sync()", f"await layer.{what}(...)")
    home = _HOME_LOOP.get()
    if home is not None:
        _run_at_home(home, lambda: function(*args, **kwargs))
        return
    loop_thread = _loop_thread()
    loop_thread.users.add(layer)
    _wait(loop_thread.submit(lambda: function(*args, **kwargs)))


class SyncLayerMethods:
    """The blocking twins of a layer's async methods; ``BaseChannelLayer`` inherits them.

    Each one validates its arguments like its async twin and has the semantics described in
    :mod:`fast_channels.sync`.
    """

    def send_sync(self: _SyncLayer, channel: str, message: Message) -> None:
        """Blocking ``send``: queue ``message`` for the one receiver of ``channel``."""
        _call_sync(self, "send", self.send, channel, message)

    def group_send_sync(self: _SyncLayer, group: str, message: Message) -> None:
        """Blocking ``group_send``: ``message`` to every member of ``group``."""
        _call_sync(self, "group_send", self.group_send, group, message)

    def group_add_sync(self: _SyncLayer, group: str, channel: str) -> None:
        """Blocking ``group_add``."""
        _call_sync(self, "group_add", self.group_add, group, channel)

    def group_discard_sync(self: _SyncLayer, group: str, channel: str) -> None:
        """Blocking ``group_discard``."""
        _call_sync(self, "group_discard", self.group_discard, group, channel)

    def flush_sync(self: _SyncLayer) -> None:
        """Blocking ``flush``: delete every message and membership of this layer."""
        _call_sync(self, "flush", self.flush)

    async def release_loop_resources(self) -> None:
        """Release what this layer holds for the running event loop only (for example its
        Redis connection pool of that loop); the layer stays open and usable.

        The sync API's loop thread calls it before it stops. The default does nothing;
        backends with per-loop resources override it.
        """


if TYPE_CHECKING:

    class _SyncLayer(ChannelLayer, _LoopResources, Protocol):
        """A layer that the sync API can call and release (what ``BaseChannelLayer`` is)."""
