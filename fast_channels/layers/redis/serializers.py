"""fast-channels 1.x's message serializers (a compatibility path).

The layers do not consult this registry: every layer encodes with MessagePack, encrypted
when ``symmetric_encryption_keys`` are given (:mod:`fast_channels.serialization`), and
takes no ``serializer_format``. These names remain for code that serializes messages
itself, or subclasses ``BaseMessageSerializer``:

* ``serialize(message)`` is ``as_bytes``, then Fernet encryption under the first key
  (keys are stretched as the layers do, so a message encrypted here decrypts there and
  the other way round), then ``random_prefix_length`` random bytes; ``deserialize``
  undoes the three. A message must decode to a dict.
* ``MsgPackSerializer`` encodes exactly as the layers do (before encryption).
"""

from __future__ import annotations

import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Protocol, cast, runtime_checkable

from fast_channels.exceptions import ConfigurationError, FastChannelsError, InvalidMessageError
from fast_channels.serialization import EncryptedSerializer, MsgpackSerializer, Serializer
from fast_channels.types import Message

__all__ = [
    "BaseMessageSerializer",
    "JSONSerializer",
    "MessageSerializer",
    "MsgPackSerializer",
    "SerializerDoesNotExist",
    "SerializersRegistry",
    "registry",
]


class SerializerDoesNotExist(FastChannelsError, KeyError):
    """No serializer is registered under the format asked for (a ``KeyError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@runtime_checkable
class MessageSerializer(Protocol):
    """What the registry hands out: a message to bytes and back."""

    def serialize(self, message: Message) -> bytes:
        """Encode ``message``."""
        ...

    def deserialize(self, data: bytes) -> Message:
        """Decode bytes made by :meth:`serialize`."""
        ...


class _Codec:
    """A :class:`~fast_channels.serialization.Serializer` over ``as_bytes``/``from_bytes``."""

    def __init__(self, owner: BaseMessageSerializer) -> None:
        self._owner = owner

    def dumps(self, message: Message) -> bytes:
        return self._owner.as_bytes(message)

    def loads(self, data: bytes) -> Message:
        value = self._owner.from_bytes(data)
        if not isinstance(value, dict):
            raise InvalidMessageError(
                f"received bytes decode to {type(value).__name__}, not a message dict"
            )
        return cast(Message, value)


class BaseMessageSerializer(ABC):
    """A serializer of fast-channels 1.x: override ``as_bytes`` and ``from_bytes``.

    ``symmetric_encryption_keys`` encrypt (the first key) and decrypt (any key);
    ``random_prefix_length`` random bytes are put before each message. ``expiry`` is kept
    for 1.x callers; decryption does not check a message's age (the layers drop old
    messages themselves).
    """

    def __init__(
        self,
        symmetric_encryption_keys: Sequence[str | bytes] | None = None,
        random_prefix_length: int = 0,
        expiry: int | None = None,
    ) -> None:
        if isinstance(symmetric_encryption_keys, str | bytes):
            raise ConfigurationError(
                "symmetric_encryption_keys must be a list of keys, not a single str/bytes; "
                "write symmetric_encryption_keys=[key]"
            )
        if (
            isinstance(random_prefix_length, bool)
            or not isinstance(random_prefix_length, int)
            or random_prefix_length < 0
        ):
            raise ConfigurationError(
                f"random_prefix_length must be an int >= 0, got {random_prefix_length!r}"
            )
        self.random_prefix_length: int = random_prefix_length
        self.expiry: int | None = expiry
        codec: Serializer = _Codec(self)
        if symmetric_encryption_keys:
            codec = EncryptedSerializer(codec, list(symmetric_encryption_keys))
        self._codec = codec

    @abstractmethod
    def as_bytes(self, message: Message) -> bytes:
        """Encode ``message`` (before encryption)."""

    @abstractmethod
    def from_bytes(self, data: bytes) -> object:
        """Decode bytes made by :meth:`as_bytes`."""

    def serialize(self, message: Message) -> bytes:
        """Encode, encrypt if keys were given, and prefix ``message``."""
        data = self._codec.dumps(message)
        if self.random_prefix_length:
            data = secrets.token_bytes(self.random_prefix_length) + data
        return data

    def deserialize(self, data: bytes) -> Message:
        """Undo :meth:`serialize`; ``DecryptionError`` if no key decrypts ``data``."""
        return self._codec.loads(data[self.random_prefix_length :])


class JSONSerializer(BaseMessageSerializer):
    """JSON in UTF-8 (bytes values cannot be encoded: use ``MsgPackSerializer`` for them)."""

    def as_bytes(self, message: Message) -> bytes:
        """``message`` as UTF-8 JSON."""
        return json.dumps(message).encode("utf-8")

    def from_bytes(self, data: bytes) -> object:
        """The JSON value in ``data``."""
        value: object = json.loads(data)
        return value


class MsgPackSerializer(BaseMessageSerializer):
    """MessagePack, as the layers encode messages."""

    _msgpack = MsgpackSerializer()

    def as_bytes(self, message: Message) -> bytes:
        """``message`` packed; ``UnserializableMessageError`` names a value it cannot pack."""
        return self._msgpack.dumps(message)

    def from_bytes(self, data: bytes) -> object:
        """The message packed in ``data``."""
        return self._msgpack.loads(data)


SerializerFactory = Callable[..., MessageSerializer]
"""A serializer class (or any callable taking the keywords ``get_serializer`` passes)."""


class SerializersRegistry:
    """Serializer classes by format name: ``"json"`` and ``"msgpack"`` to begin with."""

    def __init__(self) -> None:
        self._registry: dict[str, SerializerFactory] = {}

    def register_serializer(self, format: str, serializer_class: SerializerFactory) -> None:
        """Register ``serializer_class`` (with ``serialize`` and ``deserialize`` methods)
        under ``format``, replacing any class registered under it."""
        if not isinstance(format, str) or not format:
            raise ConfigurationError(f"a serializer format must be a non-empty str, got {format!r}")
        if not (
            isinstance(serializer_class, type)
            and callable(getattr(serializer_class, "serialize", None))
            and callable(getattr(serializer_class, "deserialize", None))
        ):
            raise TypeError(
                "serializer_class must be a class with serialize() and deserialize() "
                f"methods, such as a BaseMessageSerializer subclass; got {serializer_class!r}"
            )
        self._registry[format] = serializer_class

    def get_serializer(
        self,
        format: str,
        *,
        symmetric_encryption_keys: Sequence[str | bytes] | None = None,
        random_prefix_length: int = 0,
        expiry: int | None = None,
    ) -> MessageSerializer:
        """A new serializer of ``format``; ``SerializerDoesNotExist`` if none is registered."""
        factory = self._registry.get(format)
        if factory is None:
            known = ", ".join(repr(name) for name in sorted(self._registry))
            raise SerializerDoesNotExist(
                f"no serializer is registered as {format!r} (registered: {known})"
            )
        return factory(
            symmetric_encryption_keys=symmetric_encryption_keys,
            random_prefix_length=random_prefix_length,
            expiry=expiry,
        )


registry: SerializersRegistry = SerializersRegistry()
"""The registry 1.x code registers its serializers in."""
registry.register_serializer("json", JSONSerializer)
registry.register_serializer("msgpack", MsgPackSerializer)
