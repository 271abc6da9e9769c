"""Run consumers on named channels: a background worker (``fast-channels worker``).

A worker receives from one or more *named* channels of a channel layer (``"thumbnails"``)
and hands each message to a consumer, whose method the message's ``"type"`` names
(``"thumbnail.create"`` → ``thumbnail_create``), as Django Channels' ``runworker`` does.
The consumer sees the ASGI scope ``{"type": "channel", "channel": name}``; its
``channel_layer`` and ``groups`` work as in any consumer, so a handler reports progress
with ``await self.channel_layer.group_send(...)``.

Semantics:

* **Each message is handled once.** Named channels of a shared layer (the Redis layers)
  deliver each message to one receiver, so any number of worker processes on the same
  channel share the work.
* **Concurrency.** At most ``concurrency`` messages are handled at once (default 1: one
  after the other, in the order received). A worker only receives while it has a free slot,
  so messages it cannot start yet stay in the layer for other workers. Each slot has its
  own consumer instance per channel; one instance handles one message at a time.
* **Failures.** A handler that raises is logged on ``fast_channels.worker`` with the
  message type and channel, counted in ``statistics()``, and the worker goes on; the
  message is not retried (at-most-once). If receiving fails (e.g. Redis restarting), the
  error is logged and receiving resumes after ``retry_delay`` seconds.
* **An unreachable layer is reported.** A layer on Redis keeps reconnecting by itself while
  Redis is down, so a waiting ``receive()`` just waits. The worker therefore checks the
  layer (one harmless round trip: leaving the group ``fast-channels.worker-check``, which
  nobody joins) when it starts and every ``health_interval`` seconds. When a check fails it
  logs an error at once ("... is unreachable ...: no message can be received until it is
  back"), checks again every ``retry_delay`` seconds and repeats the error at most every
  ``health_interval`` seconds while it lasts; when Redis answers again it logs that the
  layer is back. ``statistics()`` shows ``layer_reachable`` and counts failed checks. (The
  pub/sub layer answers this check without Redis, so it is never reported there.)
* **Graceful stop.** :meth:`Worker.stop` (the CLI calls it on SIGTERM/SIGINT) stops receiving
  (cancelling a ``receive()`` loses no message), lets the messages in hand finish, then ends
  the consumer instances; :meth:`Worker.run` returns. A second ``stop()`` cancels the
  handlers still running: each is logged and counted as ``cancelled`` (its message is
  lost: it was taken from the layer and not finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from fast_channels.consumer.base import AsyncConsumer, ConsumerApp
from fast_channels.consumer.sync import SyncConsumer
from fast_channels.exceptions import ConfigurationError, ConsumerError, LayerClosedError
from fast_channels.layers.base import BaseChannelLayer, ChannelLayer
from fast_channels.layers.registry import get_channel_layer
from fast_channels.types import ASGIEvent, Message, Scope

__all__ = ["CHECK_GROUP", "Worker", "WorkerStatistics", "as_worker_app"]

logger: logging.Logger = logging.getLogger("fast_channels.worker")

CHECK_GROUP = "fast-channels.worker-check"
"""The group a worker leaves to check that its layer answers (nobody ever joins it)."""


@dataclass(frozen=True, slots=True)
class WorkerStatistics:
    """A snapshot of one worker's counters (``worker.statistics()``)."""

    received: int = 0
    """Messages taken from the layer."""
    handled: int = 0
    """Messages whose handler returned."""
    failed: int = 0
    """Messages whose handler raised (logged with their type)."""
    in_hand: int = 0
    """Messages received and not finished yet (running or about to run)."""
    receive_errors: int = 0
    """Failed ``receive()`` calls (each retried after ``retry_delay``)."""
    cancelled: int = 0
    """Messages whose handler a second :meth:`Worker.stop` cancelled (each one is lost)."""
    layer_checks_failed: int = 0
    """Checks of the layer that failed (Redis unreachable, or no answer in time)."""
    layer_reachable: bool = True
    """Whether the last check of the layer succeeded (True before the first one)."""


class _Instance:
    """One consumer instance serving one channel scope; handles one message at a time."""

    def __init__(self, consumer: AsyncConsumer, task: asyncio.Task[None]) -> None:
        self.consumer = consumer
        self.task = task


async def _no_client_send(event: ASGIEvent) -> None:
    raise ConsumerError(
        f"a worker consumer has no client to send {event.get('type')!r} to; "
        "reach clients through the layer (self.channel_layer.group_send(...))"
    )


def as_worker_app(app: object) -> ConsumerApp[AsyncConsumer]:
    """``app`` as a consumer app a :class:`Worker` can run; ``ConfigurationError`` if it is
    neither an ``AsyncConsumer`` or ``SyncConsumer`` subclass nor the ``as_asgi()`` app of
    one."""
    if isinstance(app, ConsumerApp):
        return cast("ConsumerApp[AsyncConsumer]", app)
    if isinstance(app, type) and issubclass(app, AsyncConsumer | SyncConsumer):
        return app.as_asgi()
    raise ConfigurationError(
        f"a worker runs an AsyncConsumer subclass (or a SyncConsumer one) or its as_asgi() "
        f"app, got {app!r}"
    )


class Worker:
    """Serve ``channels`` of ``layer`` with ``app`` (see the module for the semantics)."""

    def __init__(
        self,
        app: type[AsyncConsumer] | type[SyncConsumer] | ConsumerApp[AsyncConsumer],
        channels: Sequence[str],
        *,
        layer: ChannelLayer | None = None,
        layer_alias: str = "default",
        concurrency: int = 1,
        retry_delay: float = 1.0,
        health_interval: float = 5.0,
    ) -> None:
        self.app: ConsumerApp[AsyncConsumer] = as_worker_app(app)
        scope_type = self.app.consumer_class.scope_type
        if scope_type not in (None, "channel"):
            raise ConfigurationError(
                f"{self.app.consumer_class.__name__} serves {scope_type!r} connections; a "
                "worker needs a consumer for 'channel' scopes, e.g. an AsyncConsumer subclass"
            )
        if isinstance(channels, str) or not channels:
            raise ConfigurationError(
                f"channels must be a non-empty list of names, e.g. ['thumbnails'], got {channels!r}"
            )
        for name in channels:
            BaseChannelLayer.require_valid_channel_name(name)
            if "!" in name:
                raise ConfigurationError(
                    f"{name!r} is a process-local channel; a worker serves named channels "
                    "that other processes send to, e.g. 'thumbnails'"
                )
        if len(set(channels)) != len(channels):
            raise ConfigurationError(f"channels has duplicates: {list(channels)!r}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a positive int, got {concurrency!r}")
        if isinstance(retry_delay, bool) or not isinstance(retry_delay, int | float):
            raise ConfigurationError(f"retry_delay must be a number, got {retry_delay!r}")
        if retry_delay <= 0:
            raise ConfigurationError(f"retry_delay must be positive, got {retry_delay!r}")
        if (
            isinstance(health_interval, bool)
            or not isinstance(health_interval, int | float)
            or health_interval <= 0
        ):
            raise ConfigurationError(
                f"health_interval must be a positive number of seconds, got {health_interval!r}"
            )
        self.channels: tuple[str, ...] = tuple(channels)
        self.layer: ChannelLayer = layer if layer is not None else get_channel_layer(layer_alias)
        self.concurrency: int = concurrency
        self.retry_delay: float = float(retry_delay)
        self.health_interval: float = float(health_interval)
        self._layer_label = (
            f"channel layer {layer_alias!r}" if layer is None else f"the {type(layer).__name__}"
        )
        self._layer_reachable = True
        self._stopping = asyncio.Event()
        self._stop_requests = 0
        self._ran = False
        self._receivers: dict[str, asyncio.Task[Message]] = {}
        self._buffered: deque[tuple[str, Message]] = deque()
        self._running: set[asyncio.Task[None]] = set()
        self._idle: dict[str, list[_Instance]] = {}
        self._instances: list[_Instance] = []
        self._counts = {
            "received": 0,
            "handled": 0,
            "failed": 0,
            "receive_errors": 0,
            "cancelled": 0,
            "layer_checks_failed": 0,
        }

    def statistics(self) -> WorkerStatistics:
        """The worker's counters right now."""
        return WorkerStatistics(
            in_hand=len(self._running) + len(self._buffered),
            layer_reachable=self._layer_reachable,
            **self._counts,
        )

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop_requests > 0

    @property
    def forced(self) -> bool:
        """Whether :meth:`stop` was called again, cancelling the handlers still running."""
        return self._stop_requests > 1

    def stop(self) -> None:
        """Stop receiving and return from :meth:`run` once the messages in hand are done.

        Safe to call from a signal handler of the worker's loop (``loop.add_signal_handler``).
        A second call also cancels the handlers still running.
        """
        self._stop_requests += 1
        self._stopping.set()
        if self._stop_requests > 1:
            for task in list(self._running):
                task.cancel()

    async def run(self) -> None:
        """Receive and handle messages until :meth:`stop`; then finish what is in hand."""
        if self._ran:
            raise ConsumerError("a Worker runs once; create a new one")
        self._ran = True
        stop_wait = asyncio.create_task(self._stopping.wait())
        watch = asyncio.create_task(self._watch_layer())
        try:
            await self._receive_loop(stop_wait)
        finally:
            await self._drain()
            stop_wait.cancel()
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            await self._end_instances()
            self._stopping.set()

    async def _check_layer(self) -> BaseException | None:
        """One round trip to the layer; what went wrong, or None if it answered."""
        try:
            async with asyncio.timeout(self.health_interval):
                await self.layer.group_discard(CHECK_GROUP, self.channels[0])
        except LayerClosedError:
            return None  # the receive loop stops the worker
        except TimeoutError:
            return TimeoutError(f"no answer within {self.health_interval:g}s")
        except Exception as exc:
            return exc
        return None

    async def _watch_layer(self) -> None:
        """Check the layer now and then; say when it is unreachable, and when it is back."""
        loop = asyncio.get_running_loop()
        down_since = last_said = 0.0
        while True:
            problem = await self._check_layer()
            now = loop.time()
            if problem is None:
                if not self._layer_reachable:
                    self._layer_reachable = True
                    logger.warning(
                        "%s is reachable again after %.1fs: receiving",
                        self._layer_label,
                        now - down_since,
                    )
                await asyncio.sleep(self.health_interval)
                continue
            self._counts["layer_checks_failed"] += 1
            cause = f"{type(problem).__name__}: {problem}"
            if self._layer_reachable:
                self._layer_reachable = False
                down_since = last_said = now
                logger.error(
                    "%s is unreachable (%s); no message can be received until it is back "
                    "(checking every %gs)",
                    self._layer_label,
                    cause,
                    self.retry_delay,
                )
            elif now - last_said >= self.health_interval:
                last_said = now
                logger.error(
                    "%s still unreachable after %.0fs (%s)",
                    self._layer_label,
                    now - down_since,
                    cause,
                )
            await asyncio.sleep(self.retry_delay)

    async def _receive_loop(self, stop_wait: asyncio.Task[bool]) -> None:
        while not self._stopping.is_set():
            if len(self._running) >= self.concurrency:
                await asyncio.wait({*self._running, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                continue
            if self._buffered:
                self._start(*self._buffered.popleft())
                continue
            for channel in self.channels:
                if channel not in self._receivers:
                    self._receivers[channel] = asyncio.create_task(self.layer.receive(channel))
            await asyncio.wait(
                {*self._receivers.values(), stop_wait}, return_when=asyncio.FIRST_COMPLETED
            )
            failed = self._collect(only_done=True)
            if self._buffered:
                self._start(*self._buffered.popleft())
            if len(self._running) >= self.concurrency:
                await self._cancel_receivers()
            if failed and not self._stopping.is_set():
                await asyncio.wait({stop_wait}, timeout=self.retry_delay)

    def _collect(self, *, only_done: bool) -> bool:
        """Move finished receives into the buffer (channel order); True if one failed."""
        failed = False
        for channel in self.channels:
            task = self._receivers.get(channel)
            if task is None or (only_done and not task.done()):
                continue
            del self._receivers[channel]
            if task.cancelled():
                continue
            exc = task.exception()
            if exc is None:
                self._counts["received"] += 1
                self._buffered.append((channel, task.result()))
            elif isinstance(exc, LayerClosedError):
                logger.error("the channel layer was closed; the worker stops: %s", exc)
                self.stop()
            else:
                failed = True
                self._counts["receive_errors"] += 1
                logger.error(
                    "receiving from %r failed (retrying in %gs): %r",
                    channel,
                    self.retry_delay,
                    exc,
                    exc_info=exc,
                )
        return failed

    async def _cancel_receivers(self) -> None:
        tasks = list(self._receivers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._collect(only_done=False)

    def _start(self, channel: str, message: Message) -> None:
        task = asyncio.create_task(self._handle(channel, message))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _handle(self, channel: str, message: Message) -> None:
        kind = message.get("type")
        try:
            instance = await self._instance(channel)
        except asyncio.CancelledError:
            self._cancelled(kind, channel)
            raise
        except Exception:
            self._counts["failed"] += 1
            logger.exception(
                "could not start %s for a %r message on channel %r",
                self.app.consumer_class.__name__,
                kind,
                channel,
            )
            return
        try:
            await instance.consumer.dispatch_in_turn(message)
        except asyncio.CancelledError:
            self._cancelled(kind, channel)
            raise
        except Exception:
            self._counts["failed"] += 1
            logger.exception("handler for message type %r on channel %r failed", kind, channel)
        else:
            self._counts["handled"] += 1
        finally:
            if not instance.task.done():
                self._idle.setdefault(channel, []).append(instance)

    def _cancelled(self, kind: object, channel: str) -> None:
        self._counts["cancelled"] += 1
        logger.warning(
            "handler for message type %r on channel %r was cancelled by a second stop; "
            "the message is lost",
            kind,
            channel,
        )

    async def _instance(self, channel: str) -> _Instance:
        idle = self._idle.get(channel)
        while idle:
            instance = idle.pop()
            if not instance.task.done():  # one that ended since is not served again
                return instance
        consumer = self.app.consumer_class(**self.app.initkwargs)
        scope: Scope = {"type": "channel", "channel": channel}
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def receive() -> Message:
            if not ready.done():
                ready.set_result(None)
            # A channel scope has no client events: wait until the instance is ended.
            never: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            return await never

        task = asyncio.create_task(consumer(scope, receive, _no_client_send))
        instance = _Instance(consumer, task)
        self._instances.append(instance)
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await task  # raises what stopped the consumer from starting
            raise ConsumerError(f"{type(consumer).__name__} ended before it started")
        return instance

    async def _drain(self) -> None:
        """Stop receiving; finish the messages in hand."""
        await self._cancel_receivers()
        pending = len(self._running) + len(self._buffered)
        if pending:
            logger.info("worker stopping: finishing %d message(s) in hand", pending)
        while self._buffered or self._running:
            if self._buffered and len(self._running) < self.concurrency:
                self._start(*self._buffered.popleft())
                continue
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)

    async def _end_instances(self) -> None:
        instances, self._instances = self._instances, []
        self._idle.clear()
        for instance in instances:
            instance.task.cancel()
        for instance in instances:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await instance.task
                except Exception:
                    logger.exception("%s failed while ending", type(instance.consumer).__name__)
