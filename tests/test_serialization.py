"""The codec every layer uses: msgpack, optionally encrypted with key rotation."""

from __future__ import annotations

import pytest

from fast_channels.exceptions import (
    ConfigurationError,
    DecryptionError,
    InvalidMessageError,
    UnserializableMessageError,
)
from fast_channels.serialization import (
    EncryptedSerializer,
    MsgpackSerializer,
    Serializer,
    make_serializer,
)


def test_plain_round_trip() -> None:
    codec = make_serializer()
    assert isinstance(codec, MsgpackSerializer)
    assert isinstance(codec, Serializer)
    message = {"type": "x", "b": b"\x00", "t": (1, 2), "d": {1: "int keys nested"}}
    assert codec.loads(codec.dumps(message)) == {
        "type": "x",
        "b": b"\x00",
        "t": [1, 2],
        "d": {1: "int keys nested"},
    }


def test_unserializable_value_names_the_message_type() -> None:
    with pytest.raises(UnserializableMessageError, match=r"'job\.start'"):
        MsgpackSerializer().dumps({"type": "job.start", "when": object()})


@pytest.mark.parametrize("data", [b"\xc1", b"\x01", b"\x92\x01"])
def test_garbage_bytes_are_an_invalid_message(data: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        MsgpackSerializer().loads(data)


def test_encryption_rotation() -> None:
    old = make_serializer(["old"])
    new = make_serializer([b"new", "old"])
    assert isinstance(new, EncryptedSerializer)
    token = old.dumps({"type": "x"})
    assert b"type" not in token
    assert new.loads(token) == {"type": "x"}
    assert new.loads(new.dumps({"type": "y"})) == {"type": "y"}
    with pytest.raises(DecryptionError, match="key"):
        old.loads(new.dumps({"type": "z"}))


@pytest.mark.parametrize("keys", [[""], [None], []])
def test_bad_keys(keys: list[str]) -> None:
    with pytest.raises(ConfigurationError):
        EncryptedSerializer(MsgpackSerializer(), keys)
