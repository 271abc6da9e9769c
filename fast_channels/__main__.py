"""The ``fast-channels`` command (also ``python -m fast_channels``).

``fast-channels worker CHANNEL [CHANNEL ...] --app module:Consumer`` runs a
:class:`~fast_channels.worker.Worker`; ``--help`` explains every option. Exit status: 0
after a graceful stop, 1 if a second signal cut handlers short or the worker crashed, 2 for
a usage or configuration error (nothing was received then).

The command refuses an in-memory layer (exit 2): it lives in one process, so a worker
process on it could never receive what the application's processes send, and would wait
forever without a word. (:class:`~fast_channels.worker.Worker` itself still runs on one,
inside the application's own process.)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Sequence

from fast_channels import __version__
from fast_channels.exceptions import ConfigurationError, FastChannelsError
from fast_channels.layers.in_memory import InMemoryChannelLayer
from fast_channels.layers.registry import (
    get_channel_layer,
    registered_aliases,
    unregister_channel_layer,
)
from fast_channels.worker import Worker, as_worker_app

__all__ = ["main"]

logger: logging.Logger = logging.getLogger("fast_channels.worker")

WORKER_HELP = """\
Run a consumer on named channels of a channel layer: every message sent to one of them
(await layer.send("thumbnails", {"type": "thumbnail.create", ...}), or send_sync from
sync code) is handled by the consumer method its type names (thumbnail_create), with
the scope {"type": "channel", "channel": "thumbnails"}.

Start as many workers on a channel as you like: with a shared layer (Redis), each
message is handled by exactly one of them.
"""

WORKER_EPILOG = """\
channel layers:
  The worker receives on the layer registered as --layer (default "default"). Register it
  either in the module named by --app, when it is imported (a setup function it calls),
  or in a function named by --setup, called before the app is imported (it may be async):

      # myproject/layers.py
      def setup() -> None:
          register_channel_layer("default", RedisChannelLayer(hosts=[os.environ["REDIS_URL"]]))

      fast-channels worker thumbnails --app myproject.workers:ThumbnailConsumer \\
          --setup myproject.layers:setup

  The in-memory layer reaches no other process: a worker needs a Redis layer, and the
  command refuses an in-memory one (exit 2). Every registered layer is closed when the
  worker exits. When Redis is unreachable the worker says so at once, repeats it every
  few seconds while it lasts, and says when Redis is back.

failures and stopping:
  A handler that raises is logged with the message type and the worker goes on (the
  message is not retried). SIGTERM or SIGINT: stop receiving, finish the messages in hand,
  exit 0; messages not received yet stay in the layer for other workers. A second signal
  cancels the handlers still running (counted as cancelled: their messages are lost) and
  exits 1. Exit status 2: bad usage or configuration.

example:
  fast-channels worker thumbnails --app myproject.workers:ThumbnailConsumer --concurrency 4
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fast-channels",
        description="Tools for fast-channels applications.",
    )
    parser.add_argument("--version", action="version", version=f"fast-channels {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    worker = commands.add_parser(
        "worker",
        help="run a consumer on named channels (a background worker)",
        description=WORKER_HELP,
        epilog=WORKER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument(
        "channels",
        nargs="+",
        metavar="CHANNEL",
        help="named channel(s) to receive from, e.g. thumbnails",
    )
    worker.add_argument(
        "--app",
        required=True,
        metavar="MODULE:ATTR",
        help="the consumer: an AsyncConsumer (or SyncConsumer) subclass or its as_asgi() app, "
        "e.g. myproject.workers:ThumbnailConsumer",
    )
    worker.add_argument(
        "--layer",
        default="default",
        metavar="ALIAS",
        help='alias of the registered channel layer to receive from (default: "default")',
    )
    worker.add_argument(
        "--setup",
        metavar="MODULE:FUNCTION",
        help="function called before the app is imported, e.g. to register channel layers",
    )
    worker.add_argument(
        "--concurrency",
        type=_positive_int,
        default=1,
        metavar="N",
        help="messages handled at once (default: 1, one after the other, in order)",
    )
    worker.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="logging level (default: info)",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _import(target: str, what: str) -> object:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise FastChannelsError(f"{what} must look like module:attribute, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FastChannelsError(f"{what}: could not import {module_name!r}: {exc}") from exc
    value: object = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise FastChannelsError(f"{what}: {module_name!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return value


async def _setup(target: str) -> None:
    function = _import(target, "--setup")
    if not callable(function):
        raise FastChannelsError(f"--setup {target!r} is not callable")
    try:
        result: object = function()
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        logger.debug("--setup %s failed", target, exc_info=exc)
        raise FastChannelsError(f"--setup {target!r} failed: {type(exc).__name__}: {exc}") from exc


async def _close_layers() -> None:
    for alias in registered_aliases():
        layer = get_channel_layer(alias)
        try:
            await layer.aclose()
        except Exception:
            logger.exception("could not close channel layer %r", alias)
        unregister_channel_layer(alias)


def _require_shared(worker: Worker, alias: str) -> None:
    if isinstance(worker.layer, InMemoryChannelLayer):
        raise ConfigurationError(
            f"the layer registered as {alias!r} is an {type(worker.layer).__name__}, which "
            "only its own process can reach: this worker would never receive what your "
            "application sends. Register a RedisChannelLayer (with the hosts and prefix "
            f"of your application's) as {alias!r}, in the --app module or a --setup function"
        )


async def _serve(args: argparse.Namespace) -> int:
    try:
        if args.setup:
            await _setup(args.setup)
        app = as_worker_app(_import(args.app, "--app"))
        worker = Worker(app, args.channels, layer_alias=args.layer, concurrency=args.concurrency)
        _require_shared(worker, args.layer)
    except FastChannelsError as exc:
        print(f"fast-channels worker: error: {exc}", file=sys.stderr)
        await _close_layers()
        return 2
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        if worker.stop_requested:
            logger.warning("received %s again: cancelling the handlers still running", signum.name)
        else:
            logger.info(
                "received %s: finishing %d message(s) in hand, then exiting "
                "(send it again to stop at once)",
                signum.name,
                worker.statistics().in_hand,
            )
        worker.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    logger.info(
        "worker pid %d receiving from %s on layer %r (concurrency %d)",
        os.getpid(),
        ", ".join(repr(c) for c in worker.channels),
        args.layer,
        worker.concurrency,
    )
    try:
        await worker.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await _close_layers()
    stats = worker.statistics()
    logger.info(
        "worker pid %d stopped: %d handled, %d failed, %d cancelled",
        os.getpid(),
        stats.handled,
        stats.failed,
        stats.cancelled,
    )
    return 1 if worker.forced else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fast-channels`` / ``python -m fast_channels``; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
