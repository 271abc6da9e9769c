"""What a channel or group name may be, checked before anything reaches a backend; and
which message types only the server may use."""

from __future__ import annotations

import re
from typing import Final, Protocol

from fast_channels.exceptions import InvalidChannelNameError, InvalidGroupNameError

__all__ = [
    "APP_MESSAGE_TYPES",
    "MAX_NAME_LENGTH",
    "SERVER_EVENT_PREFIXES",
    "VALID_CHANNELS",
    "ChannelNameCheck",
    "is_server_event_type",
    "require_channel_name",
    "require_channel_prefix",
    "require_group_name",
]

MAX_NAME_LENGTH = 100
"""Channel and group names are shorter than this many characters."""
# Matched with fullmatch and re.ASCII: "$" would let a trailing newline through, and
# \d / \w would accept non-ASCII digits and letters.
_CHANNEL_NAME = re.compile(r"[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?", re.ASCII)
_GROUP_NAME = re.compile(r"[a-zA-Z\d\-_.]+", re.ASCII)
_PREFIX = re.compile(r"[a-zA-Z\d\-_.]*", re.ASCII)

VALID_CHANNELS: set[str] = set()
"""Channel names already found valid (validity depends on the string alone): the hot path
of send/receive skips the regex for channels it has seen. Bounded; cleared when full."""
_VALID_CACHE_SIZE = 65_536


class ChannelNameCheck(Protocol):
    """The signature of :func:`require_channel_name` (``require_valid_channel_name``)."""

    def __call__(self, name: object, receive: bool = False) -> str:
        """Return ``name`` if it is a valid channel name, else raise."""
        ...


def require_channel_name(name: object, receive: bool = False) -> str:
    """Return ``name`` if it is a valid channel name, else raise ``InvalidChannelNameError``.

    ``receive=True`` (for fast-channels 1.x layers) also refuses a process-local name with
    anything after its ``!``, as 1.x did for names a layer receives on.
    """
    if receive and isinstance(name, str) and "!" in name and not name.endswith("!"):
        raise InvalidChannelNameError(
            f"invalid channel name {name!r} to receive on: with receive=True a "
            "process-local name must end at its '!'"
        )
    if isinstance(name, str):
        if name in VALID_CHANNELS:
            return name
        if len(name) < MAX_NAME_LENGTH and _CHANNEL_NAME.fullmatch(name):
            if len(VALID_CHANNELS) >= _VALID_CACHE_SIZE:
                VALID_CHANNELS.clear()
            VALID_CHANNELS.add(name)
            return name
    raise InvalidChannelNameError(
        f"invalid channel name {name!r}: use a str shorter than {MAX_NAME_LENGTH} "
        "characters of ASCII letters, digits, '-', '_' and '.', optionally followed by "
        "'!' and a process-local part"
    )


SERVER_EVENT_PREFIXES: Final = ("websocket.", "http.", "lifespan.")
"""How the ``type`` of an ASGI protocol event starts. Only the server sends those events, so
layers refuse messages of these types and consumers never dispatch one from a layer."""

APP_MESSAGE_TYPES: set[str] = set()
"""Message types already found not to be ASGI protocol events (that depends on the string
alone): hot paths test ``kind not in APP_MESSAGE_TYPES`` before calling
:func:`is_server_event_type`. Bounded; cleared when full."""
_APP_TYPES_CACHE_SIZE = 4_096


def is_server_event_type(kind: str) -> bool:
    """Whether ``kind`` is the type of an ASGI protocol event (``websocket.*``, ``http.*``,
    ``lifespan.*``), which only the server sends; other types are remembered in
    :data:`APP_MESSAGE_TYPES`."""
    if kind in APP_MESSAGE_TYPES:
        return False
    if kind.startswith(SERVER_EVENT_PREFIXES):
        return True
    if len(APP_MESSAGE_TYPES) >= _APP_TYPES_CACHE_SIZE:
        APP_MESSAGE_TYPES.clear()
    APP_MESSAGE_TYPES.add(kind)
    return False


def require_group_name(name: object) -> str:
    """Return ``name`` if it is a valid group name, else raise ``InvalidGroupNameError``."""
    if isinstance(name, str) and len(name) < MAX_NAME_LENGTH and _GROUP_NAME.fullmatch(name):
        return name
    raise InvalidGroupNameError(
        f"invalid group name {name!r}: use a str shorter than {MAX_NAME_LENGTH} "
        "characters of ASCII letters, digits, '-', '_' and '.'"
    )


def require_channel_prefix(prefix: object) -> str:
    """Return ``prefix`` if ``new_channel()`` accepts it, else raise
    ``InvalidChannelNameError``."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix) or len(prefix) > 50:
        raise InvalidChannelNameError(
            f"invalid channel prefix {prefix!r}: use up to 50 ASCII letters, digits, "
            "'-', '_' and '.'"
        )
    return prefix
