"""How messages become bytes, for every layer (the in-memory layer included).

Every layer encodes a message once, when it is sent, and decodes it when it is received.
The in-memory layer does this too, so a message that could not cross Redis fails in a
unit test on the in-memory layer already, and receivers never share a mutable dict with
the sender.

The wire format is MessagePack. Tuples arrive as lists; ``bytes`` stay ``bytes``.
With ``symmetric_encryption_keys`` (the ``crypto`` extra installs ``cryptography``), the
packed bytes are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the *first* key;
any of the keys decrypts, so keys can be rotated by putting the new key first.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

import msgpack

from fast_channels.exceptions import (
    ConfigurationError,
    DecryptionError,
    InvalidMessageError,
    UnserializableMessageError,
)
from fast_channels.types import Message

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ["EncryptedSerializer", "MsgpackSerializer", "Serializer", "make_serializer"]


@runtime_checkable
class Serializer(Protocol):
    """Turns a message into bytes and back."""

    def dumps(self, message: Message) -> bytes:
        """Encode ``message``; raise ``UnserializableMessageError`` if it cannot be."""
        ...

    def loads(self, data: bytes) -> Message:
        """Decode bytes made by ``dumps``; raise ``InvalidMessageError``/``DecryptionError``."""
        ...


class MsgpackSerializer:
    """MessagePack encoding: fast, compact, and binary-safe."""

    def dumps(self, message: Message) -> bytes:
        """Encode ``message``, naming the offending type if a value cannot be encoded."""
        try:
            return msgpack.packb(message, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise UnserializableMessageError(
                f"message of type {message.get('type')!r} cannot be serialized ({exc}); "
                "messages may hold only None, bool, int, float, str, bytes, and "
                "lists, tuples and dicts of those"
            ) from exc

    def loads(self, data: bytes) -> Message:
        """Decode bytes made by :meth:`dumps`."""
        try:
            value: object = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
            raise InvalidMessageError(f"received bytes are not a message: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidMessageError(
                f"received bytes decode to {type(value).__name__}, not a message dict"
            )
        return cast(Message, value)


def _fernet_key(key: str | bytes) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


class EncryptedSerializer:
    """Wraps another serializer and encrypts its bytes with Fernet.

    The first key encrypts; every key is tried to decrypt (key rotation).
    """

    def __init__(self, inner: Serializer, keys: Sequence[str | bytes]) -> None:
        try:
            from cryptography.fernet import Fernet, MultiFernet
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "symmetric_encryption_keys needs the 'cryptography' package: "
                "pip install fast-channels[crypto]"
            ) from exc
        if not keys:
            raise ConfigurationError("symmetric_encryption_keys must hold at least one key")
        for key in keys:
            if not isinstance(key, str | bytes) or not key:
                raise ConfigurationError(
                    f"symmetric_encryption_keys must be non-empty str or bytes, got {key!r}"
                )
        self._inner = inner
        self._fernet: MultiFernet = MultiFernet([Fernet(_fernet_key(k)) for k in keys])

    def dumps(self, message: Message) -> bytes:
        """Encode with the inner serializer, then encrypt under the first key."""
        return self._fernet.encrypt(self._inner.dumps(message))

    def loads(self, data: bytes) -> Message:
        """Decrypt with any configured key, then decode with the inner serializer."""
        from cryptography.fernet import InvalidToken

        try:
            plain = self._fernet.decrypt(data)
        except InvalidToken as exc:
            raise DecryptionError(
                "no symmetric_encryption_keys entry decrypts this message: the sender "
                "uses a key this layer does not have"
            ) from exc
        return self._inner.loads(plain)


def make_serializer(
    symmetric_encryption_keys: Sequence[str | bytes] | None = None,
) -> Serializer:
    """The serializer a layer uses: msgpack, encrypted when keys are given."""
    inner = MsgpackSerializer()
    if symmetric_encryption_keys is None:
        return inner
    if isinstance(symmetric_encryption_keys, str | bytes):
        raise ConfigurationError(
            "symmetric_encryption_keys must be a list of keys, not a single str/bytes; "
            "write symmetric_encryption_keys=[key]"
        )
    return EncryptedSerializer(inner, list(symmetric_encryption_keys))
