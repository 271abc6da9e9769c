"""Every exception fast-channels raises on purpose.

All of them derive from :class:`FastChannelsError`, so ``except FastChannelsError`` catches
anything the library raises by design. Each class also derives from the builtin that fits
its meaning (``ValueError`` for a bad value, ``TypeError`` for a wrong type, ``LookupError``
for a missing registration, ``ConnectionError`` for an unreachable backend), so code that
already catches builtins keeps working.

::

    FastChannelsError
    ├── ConfigurationError (ValueError)          bad layer/consumer configuration
    │   └── UnknownOptionError (TypeError)       an option name the layer does not take
    ├── LayerNotRegisteredError (LookupError)    get_channel_layer("alias") with no such alias
    ├── LayerAlreadyRegisteredError (ValueError) register_channel_layer twice with one alias
    ├── InvalidNameError (ValueError)
    │   ├── InvalidChannelNameError              channel name breaks the naming rules
    │   └── InvalidGroupNameError                group name breaks the naming rules
    ├── InvalidMessageError (ValueError)         message has no str "type" / non-str keys
    │   ├── MessageTypeError (TypeError)         message is not a dict
    │   ├── UnserializableMessageError           a value msgpack cannot encode
    │   └── MessageTooLargeError                 encoded message over max_message_size
    ├── ChannelFull                              the receiving channel is at capacity
    ├── LayerClosedError (RuntimeError)          the layer was closed with aclose()
    ├── LayerConnectionError (ConnectionError)   the backend (Redis) cannot be reached in time
    │   └── BackendConfigurationError (+ ConfigurationError)  Redis refuses the layer's settings
    │       └── BackendAuthenticationError       wrong password or user, or no permission
    ├── BackendRefusedError (RuntimeError)       Redis refused a command (out of memory, ...)
    ├── DecryptionError (ValueError)             no configured key decrypts a message
    ├── HistoryNotEnabledError (LookupError)     history asked of a group that keeps none
    ├── InvalidPositionError (ValueError)        a history position that cannot be read
    ├── PresenceInfoError (ValueError)           presence info that is not a small dict
    ├── SyncCalledFromAsyncError (RuntimeError)  a *_sync method called inside an event loop
    ├── StopConsumer                             raised by a handler to end the consumer
    ├── AcceptConnection                         raised in connect() to accept the handshake
    ├── DenyConnection                           raised in connect() to reject the handshake
    ├── ConsumerError (RuntimeError)             a consumer used in a way it does not allow
    │   ├── UnknownMessageTypeError              no handler method for a message "type"
    │   └── WebSocketStateError                  send before accept / after close, etc.
    ├── CommunicatorError (AssertionError)       the app under test did something unexpected
    └── CommunicatorTimeoutError (TimeoutError)  a testing communicator waited too long

fast-channels 1.x's names stay: ``InvalidChannelLayerError`` is ``ConfigurationError`` and
``MessageTooLarge`` is ``MessageTooLargeError``.
"""

from __future__ import annotations

__all__ = [
    "AcceptConnection",
    "BackendAuthenticationError",
    "BackendConfigurationError",
    "BackendRefusedError",
    "ChannelFull",
    "CommunicatorError",
    "CommunicatorTimeoutError",
    "ConfigurationError",
    "ConsumerError",
    "DecryptionError",
    "DenyConnection",
    "FastChannelsError",
    "HistoryNotEnabledError",
    "InvalidChannelLayerError",
    "InvalidChannelNameError",
    "InvalidGroupNameError",
    "InvalidMessageError",
    "InvalidNameError",
    "InvalidPositionError",
    "LayerAlreadyRegisteredError",
    "LayerClosedError",
    "LayerConnectionError",
    "LayerNotRegisteredError",
    "MessageTooLarge",
    "MessageTooLargeError",
    "MessageTypeError",
    "PresenceInfoError",
    "StopConsumer",
    "SyncCalledFromAsyncError",
    "UnknownMessageTypeError",
    "UnknownOptionError",
    "UnserializableMessageError",
    "WebSocketStateError",
]


class FastChannelsError(Exception):
    """Root of every exception fast-channels raises on purpose."""


class ConfigurationError(FastChannelsError, ValueError):
    """A layer or consumer was configured with a value it cannot use.

    Raised at construction time, with a message naming the option and what it accepts.
    What only the backend can judge (a Redis database number it does not have, a wrong
    password) is found when the layer first connects: :class:`BackendConfigurationError`.
    """


class UnknownOptionError(ConfigurationError, TypeError):
    """A layer was given an option it does not take (configuration is keyword-only).

    Raised at construction time. The message names the layer's class and the nearest
    valid option (``hots=`` suggests ``hosts=``). A ``TypeError`` too, as Python's own
    error for an unexpected keyword argument is.
    """


InvalidChannelLayerError = ConfigurationError
"""fast-channels 1.x's name of :class:`ConfigurationError`."""


class LayerNotRegisteredError(FastChannelsError, LookupError):
    """No channel layer is registered under the requested alias.

    The message lists the aliases that are registered.
    """


class LayerAlreadyRegisteredError(FastChannelsError, ValueError):
    """``register_channel_layer`` was called with an alias that is already taken.

    Call ``unregister_channel_layer(alias)`` first, or guard with ``has_layers()``.
    """


class InvalidNameError(FastChannelsError, ValueError):
    """A channel or group name breaks the naming rules."""


class InvalidChannelNameError(InvalidNameError):
    """A channel name is not a str matching ``^[a-zA-Z\\d\\-_.]+(![\\d\\w\\-_.]*)?$``.

    Names must also be shorter than 100 characters.
    """


class InvalidGroupNameError(InvalidNameError):
    """A group name is not a str matching ``^[a-zA-Z\\d\\-_.]+$`` shorter than 100 characters."""


class InvalidMessageError(FastChannelsError, ValueError):
    """A message is not something a channel layer can carry.

    Messages are dicts with str keys and a str ``"type"`` key naming the handler
    (``"chat.message"`` is handled by ``chat_message``).
    """


class MessageTypeError(InvalidMessageError, TypeError):
    """The message is not a ``dict``."""


class UnserializableMessageError(InvalidMessageError):
    """The message holds a value the serializer cannot encode.

    Messages may hold only ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes`` and
    lists/tuples/dicts of those: what the message would need to cross Redis.
    """


class MessageTooLargeError(InvalidMessageError):
    """The encoded message is larger than the layer's ``max_message_size``.

    The pub/sub layer also raises it for a message Redis could not hand to a subscriber:
    one near the pub/sub client output buffer limit, over which Redis disconnects the
    subscriber and drops what it held. Nothing was sent.
    """


MessageTooLarge = MessageTooLargeError
"""fast-channels 1.x's name of :class:`MessageTooLargeError`."""


class ChannelFull(FastChannelsError):
    """The channel holds ``capacity`` messages already; this message was not accepted.

    Raised by ``send``. ``group_send`` never raises it: it skips full members, counts
    them in ``statistics()`` and logs a warning.
    """


class LayerClosedError(FastChannelsError, RuntimeError):
    """The layer was closed (``aclose()``) and cannot send or receive any more."""


class LayerConnectionError(FastChannelsError, ConnectionError):
    """The backend could not be reached within the layer's timeout.

    Raised by any layer call that needs Redis (``send``, ``group_send``, ``group_add``,
    ``new_channel``, a first ``receive``) within ``socket_timeout`` of the call. When
    Redis could not be reached at all the message was not sent; when the connection broke
    after the command was written, the command may still have run, so a retry can deliver
    the message twice (at most once per attempt). The layer reconnects by itself. The
    message names the Redis server.
    """


class BackendConfigurationError(LayerConnectionError, ConfigurationError):
    """Redis answers, but refuses the layer's connection settings.

    For example a database number the server does not have (``redis://host/99`` with 16
    databases). Raised when the layer connects (the first call that needs Redis, and every
    call after it until the setting is fixed): nothing was sent, and retrying cannot help.
    Fix the layer's ``hosts``/``connection_kwargs`` or the server. Also a
    ``ConfigurationError``; a ``LayerConnectionError`` too, since the layer cannot use its
    backend.
    """


class BackendAuthenticationError(BackendConfigurationError):
    """Redis refused the layer's credentials: a wrong or missing password or user name, or
    an ACL user without a permission the layer needs.

    Raised when the layer connects (``new_channel()`` and ``group_add()`` included):
    nothing was sent. Fix the password in the URL (``redis://:password@host``) or in
    ``connection_kwargs``, or the user's ACL rules.
    """


class BackendRefusedError(FastChannelsError, RuntimeError):
    """Redis was reached but refused to run a command, so it did not run.

    Most often Redis is full: ``maxmemory`` is reached under the ``noeviction`` policy, so
    every command that needs memory (a send, a group send, a ``group_add``) is refused
    until memory is freed. The message quotes Redis's reason. Nothing was sent; a retry
    once the cause is fixed is safe.
    """


class DecryptionError(FastChannelsError, ValueError):
    """None of the configured ``symmetric_encryption_keys`` decrypts a message."""


class HistoryNotEnabledError(FastChannelsError, LookupError):
    """History was asked of a group that keeps none (``group_recover``, ``group_history``,
    ``group_position``).

    A group keeps history when a pattern of the layer's ``group_options`` matching its name
    gives it ``GroupOptions(history_size=...)``; the message names the group.
    """


class InvalidPositionError(FastChannelsError, ValueError):
    """A history position cannot be read (``Position.parse``): not ``"<epoch>:<offset>"``
    nor a mapping with a valid ``epoch`` (1 to 64 ASCII letters or digits) and ``offset``
    (an int >= 0). Positions come back from clients: treat this as bad client input."""


class PresenceInfoError(FastChannelsError, ValueError):
    """The info given to ``presence_join`` is not a dict of plain values (what a message
    may hold) with str keys, or is larger than ``MAX_INFO_SIZE`` bytes encoded."""


class SyncCalledFromAsyncError(FastChannelsError, RuntimeError):
    """A blocking ``*_sync`` call (or ``fast_channels.sync.run``) was made from async code.

    An event loop runs in the calling thread, and blocking it would stall every other task
    (or deadlock). Nothing was sent: ``await`` the async method there instead, e.g.
    ``await layer.send(...)`` rather than ``layer.send_sync(...)``.
    """


class StopConsumer(FastChannelsError):
    """Raise from a consumer handler to end the consumer cleanly (not an error)."""


class AcceptConnection(FastChannelsError):
    """Raise from ``connect()`` to accept the WebSocket handshake (as ``accept()`` would)."""


class DenyConnection(FastChannelsError):
    """Raise from ``websocket_connect``/``connect`` to reject the WebSocket handshake."""


class ConsumerError(FastChannelsError, RuntimeError):
    """A consumer was used in a way it does not allow."""


class UnknownMessageTypeError(ConsumerError):
    """A message's ``"type"`` has no handler method on the consumer.

    ``"chat.message"`` needs a method ``chat_message(self, message)``.
    """


class WebSocketStateError(ConsumerError):
    """A WebSocket action is not allowed in the connection's current state.

    For example sending before ``accept()`` or after ``close()``.
    """


class CommunicatorError(FastChannelsError, AssertionError):
    """The application under test did something a testing communicator did not expect.

    For example it finished without sending the awaited message, or answered the
    handshake with something other than ``websocket.accept`` / ``websocket.close``. The
    message says what was expected and what arrived. An ``AssertionError``, so pytest
    reports it as a failed test.
    """


class CommunicatorTimeoutError(FastChannelsError, TimeoutError):
    """A testing communicator waited longer than its timeout for the application."""
