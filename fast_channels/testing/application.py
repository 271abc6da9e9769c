"""Drive any ASGI application from a test, one event at a time, with no server.

The application runs as a task in the test's event loop. Its input is a queue that
``send_input`` fills; what it sends goes to a queue that ``receive_output`` drains.

* Every wait has a timeout; running out raises ``CommunicatorTimeoutError`` naming what
  was awaited.
* If the application raises, the next call re-raises that very exception (once), so a
  test sees the real error, not a timeout.
* ``receive_output`` and ``wait`` cancel the application when they time out: a test that
  lost track of its application cannot usefully go on with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from types import TracebackType
from typing import Self

from fast_channels.exceptions import CommunicatorError, CommunicatorTimeoutError
from fast_channels.types import ASGIApp, ASGIEvent, Message, Scope

__all__ = ["ApplicationCommunicator"]


class ApplicationCommunicator:
    """Runs ``application`` on ``scope`` and exchanges ASGI events with it.

    The application starts at the first ``send_input`` / ``receive_output`` (so the
    communicator can be built outside a running loop). Use ``async with`` to make sure it
    is stopped at the end of the test.
    """

    def __init__(self, application: ASGIApp, scope: Scope) -> None:
        if not callable(application):
            raise TypeError(f"application must be an ASGI app, got {application!r}")
        self.application = application
        self.scope: Scope = scope
        self._input: asyncio.Queue[Message] = asyncio.Queue()
        self._output: deque[Message] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reported = False

    # -- running -------------------------------------------------------------------------

    def _started(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"application under test ({self.scope.get('type')})"
            )
        return self._task

    async def _run(self) -> None:
        async def receive() -> Message:
            return await self._input.get()

        async def send(message: ASGIEvent) -> None:
            self._output.append(dict(message))
            self._ready.set()

        await self.application(self.scope, receive, send)

    @property
    def finished(self) -> bool:
        """Whether the application has returned or raised."""
        return self._task is not None and self._task.done()

    def _raise_app_error(self) -> None:
        """Re-raise the application's exception once, if it had one."""
        if self._has_unreported_error() and self._task is not None:
            error = self._task.exception()
            if error is not None:
                self._reported = True
                raise error

    async def _cancel(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the API -------------------------------------------------------------------------

    async def send_input(self, message: Message) -> None:
        """Give ``message`` to the application's ``receive()``."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise TypeError(f"an ASGI event is a dict with a str 'type', got {message!r}")
        self._started()
        self._raise_app_error()
        await self._input.put(message)

    async def receive_output(self, timeout: float = 1) -> Message:
        """The next event the application sends, waiting up to ``timeout`` seconds."""
        return await self._next_output(timeout, "an event (receive_output)")

    async def _next_output(self, timeout: float, awaited: str) -> Message:
        self._raise_app_error()
        if not await self._wait_for_output(timeout):
            await self._cancel()
            raise CommunicatorTimeoutError(
                f"the application sent nothing within {timeout}s while {awaited} was "
                "awaited; it was cancelled"
            )
        if not self._output:
            self._raise_app_error()
            raise CommunicatorError(f"the application finished while {awaited} was awaited")
        event = self._output.popleft()
        if str(event.get("type", "")).endswith(".close"):
            # An application that closes because it failed raises right after: report
            # that error rather than the close (which stays queued for the next call).
            # A 1011 close (internal error) says the app failed: wait for it to end (its
            # disconnect() may still run, e.g. in a thread), within the timeout.
            if event.get("code") == 1011:
                await self._wait_app_end(timeout)
            else:
                await self._let_app_settle()
            if self._has_unreported_error():
                self._output.appendleft(event)
                self._raise_app_error()
        return event

    async def _wait_app_end(self, timeout: float) -> None:
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait([task], timeout=timeout)

    async def _let_app_settle(self) -> None:
        for _ in range(5):
            if self._task is None or self._task.done():
                return
            await asyncio.sleep(0)

    def _has_unreported_error(self) -> bool:
        task = self._task
        return (
            task is not None
            and task.done()
            and not task.cancelled()
            and task.exception() is not None
            and not self._reported
        )

    async def receive_nothing(self, timeout: float = 0.1, interval: float = 0.01) -> bool:
        """True if the application sends nothing within ``timeout`` seconds.

        An event that does arrive stays queued for ``receive_output``. (``interval`` is
        accepted for Django Channels' and fast-channels 1.x's signature and not needed: the
        wait ends as soon as an event arrives.)
        """
        await self._wait_for_output(timeout)
        if self._output:
            return False
        self._raise_app_error()
        return True

    async def _wait_for_output(self, timeout: float) -> bool:
        """Wait until an event is queued or the application ended; False on timeout."""
        task = self._started()
        if self._output or task.done():
            return True
        self._ready.clear()
        waiter = asyncio.ensure_future(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        return bool(done)

    async def wait(self, timeout: float = 1) -> None:
        """Wait for the application to return; re-raise its exception if it raised."""
        task = self._started()
        if not task.done():
            await asyncio.wait({task}, timeout=timeout)
        if not task.done():
            await self._cancel()
            raise CommunicatorTimeoutError(
                f"the application did not finish within {timeout}s (wait); it was cancelled"
            )
        self._raise_app_error()

    async def stop(self) -> None:
        """Cancel the application if it still runs, and wait until it has stopped."""
        await self._cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            await self.stop()
            return
        await self._close()

    async def _close(self) -> None:
        """End the application at the end of an ``async with`` block without error."""
        await self.stop()
        self._raise_app_error()
